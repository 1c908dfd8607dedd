"""Masking throughput (frames per second) for 720p and 1080p, in memory, on this machine.

Baselines: real time (25 fps, the issue's target for 720p) and a plain decode + libx264
re-encode of the same clip without detection or masking (what masking adds on top).
The clip: ten seconds at 25 fps of a photo background with the scikit-image astronaut pasted
twice, drifting a few pixels per frame (faces for the Haar cascade, motion for the encoder).

Run: .venv/bin/python bench/export.py [--seconds 10]
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

from appliance.export.masking import MaskingOptions, MaskPlan, mask_video

REAL_TIME_FPS = 25.0


def make_clip(width: int, height: int, frames: int) -> bytes:
    """An H.264 MP4 in memory (encoded once, outside the timed part)."""
    coffee, astronaut = data.coffee(), data.astronaut()  # type: ignore[no-untyped-call]
    background = cv2.resize(coffee, (width, height), interpolation=cv2.INTER_AREA)
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
                x = x0 + (index * 3) % (width // 5)
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
        enc.options = {"preset": "veryfast", "crf": "23"}
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


def measure(label: str, width: int, height: int, frames: int) -> dict[str, float]:
    clip = make_clip(width, height, frames)
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
            f"{label:>6} {name:<13} {fps:6.1f} fps  x{fps / REAL_TIME_FPS:4.2f} real time  "
            f"x{fps / results['transcode_fps']:4.2f} of plain transcode  "
            f"CPU {100 * cpu / wall:4.0f}% of one core  boxes {masked.summary.boxes}"
        )
    print(
        f"{label:>6} {'transcode':<13} {results['transcode_fps']:6.1f} fps  (baseline, "
        f"CPU {100 * base_cpu / base_s:.0f}% of one core)"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    frames = int(args.seconds * REAL_TIME_FPS)
    print(
        f"masking throughput, {frames} frames per clip, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    for label, (w, h) in {"720p": (1280, 720), "1080p": (1920, 1080)}.items():
        measure(label, w, h, frames)


if __name__ == "__main__":
    main()
