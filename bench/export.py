"""Masking throughput (frames per second) for 720p and 1080p, in memory, on this machine.

Baselines: real time (25 fps, the issue's target for 720p) and a plain decode + libx264
re-encode of the same clip without detection or masking (what masking adds on top).
The clip: ten seconds at 25 fps with the scikit-image astronaut pasted twice, drifting a few
pixels per frame (faces for the Haar cascade, motion for the encoder), on two backgrounds:
"plain" (a synthetic room of flat surfaces, like most lobbies) and "textured" (a photo of
wood grain, the detector's worst case: texture keeps more windows alive in the cascade);
"still" is the plain room with the faces not moving (people sitting in a waiting room, where
the whole-frame passes reuse their last answer: ``appliance.export.still``).
CPU is the process's own user+system time, so the ms/frame figures hold even when other
work shares the machine; the fps figures do not.

Run: .venv/bin/python -m bench.export [--seconds 10] [--scenes plain textured]
"""

from __future__ import annotations

import argparse
import io
import os
import time

import av
import cv2
import numpy as np
from skimage import data

from appliance.export.masking import mask_video
from appliance.export.options import MaskingOptions, MaskPlan, encoder_options

REAL_TIME_FPS = 25.0


def _room(width: int, height: int) -> np.ndarray:
    """A plain synthetic room: shaded wall and floor, a door and a counter (flat surfaces, as
    in most lobbies and corridors)."""
    image = np.zeros((height, width, 3), np.uint8)
    wall = np.linspace(200, 170, height * 2 // 3, dtype=np.uint8)[:, None, None]
    image[: height * 2 // 3] = wall * np.array([[[1.0, 0.97, 0.9]]])
    image[height * 2 // 3 :] = (120, 105, 90)
    cv2.rectangle(
        image, (width // 20, height // 6), (width // 6, height * 2 // 3), (90, 70, 50), -1
    )
    cv2.rectangle(
        image,
        (width * 2 // 3, height // 2),
        (width - width // 20, height * 3 // 4),
        (60, 60, 70),
        -1,
    )
    return image


def make_clip(width: int, height: int, frames: int, scene: str = "textured") -> bytes:
    """An H.264 MP4 in memory (encoded once, outside the timed part)."""
    coffee, astronaut = data.coffee(), data.astronaut()  # type: ignore[no-untyped-call]
    if scene == "textured":
        background = cv2.resize(coffee, (width, height), interpolation=cv2.INTER_AREA)
    else:
        background = _room(width, height)
    drift = 0 if scene == "still" else 3  # "still": two people sitting, nothing moves
    face = cv2.resize(astronaut, (height // 2, height // 2), interpolation=cv2.INTER_AREA)
    size = face.shape[0]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for index in range(frames):
            image = background.copy()
            for k, x0 in enumerate((width // 10, width // 2)):
                x = x0 + (index * drift) % (width // 5)
                y = height // 8 + k * height // 6
                image[y : y + size, x : x + size] = face
            frame = av.VideoFrame.from_ndarray(np.asarray(image, np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def transcode_only(source: bytes) -> int:
    """Decode and re-encode with the same settings, no detection: the baseline."""
    buffer = io.BytesIO()
    count = 0
    with av.open(io.BytesIO(source), "r") as container, av.open(buffer, "w", format="mp4") as out:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        enc = out.add_stream("libx264", rate=25)
        enc.width, enc.height, enc.pix_fmt = stream.width, stream.height, "yuv420p"
        enc.options = encoder_options(MaskingOptions())  # what masking encodes with
        for frame in container.decode(stream):
            array = np.asarray(frame.to_ndarray(), np.uint8)
            new = av.VideoFrame.from_ndarray(array, format="yuv420p")
            new.pts = count
            count += 1
            for packet in enc.encode(new):
                out.mux(packet)
        for packet in enc.encode(None):
            out.mux(packet)
    return count


def cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def measure(label: str, width: int, height: int, frames: int, scene: str) -> dict[str, float]:
    clip = make_clip(width, height, frames, scene)
    t0, c0 = time.perf_counter(), cpu_s()
    count = transcode_only(clip)
    base_s, base_cpu = time.perf_counter() - t0, cpu_s() - c0
    results: dict[str, float] = {"transcode_fps": count / base_s}
    for name, options in (
        ("faces+people", MaskingOptions()),
        ("faces only", MaskingOptions(people=False)),
    ):
        t0, c0 = time.perf_counter(), cpu_s()
        masked = mask_video(clip, MaskPlan(options=options))
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        fps = masked.summary.frames / wall
        results[name] = fps
        print(
            f"{label:>5} {scene:<8} {name:<12} {fps:5.1f} fps  x{fps / REAL_TIME_FPS:4.2f} real "
            f"time  x{fps / results['transcode_fps']:4.2f} of transcode  "
            f"CPU {1000 * cpu / masked.summary.frames:5.1f} ms/frame "
            f"({100 * cpu / wall:3.0f}% of a core)  boxes {masked.summary.boxes}"
        )
    print(
        f"{label:>5} {scene:<8} {'transcode':<12} {results['transcode_fps']:5.1f} fps  "
        f"(baseline)  CPU {1000 * base_cpu / count:5.1f} ms/frame "
        f"({100 * base_cpu / base_s:3.0f}% of a core)"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--scenes",
        nargs="+",
        default=["plain", "textured"],
        choices=["plain", "textured", "still"],
    )
    args = parser.parse_args()
    frames = int(args.seconds * REAL_TIME_FPS)
    print(
        f"masking throughput, {frames} frames per clip, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    for scene in args.scenes:
        for label, (w, h) in {"720p": (1280, 720), "1080p": (1920, 1080)}.items():
            measure(label, w, h, frames, scene)


if __name__ == "__main__":
    main()
