"""What the people pass's schedule loses: masking against the same detector run on every frame.

People (``appliance.export.detect.PersonDetector``, OpenCV's HOG) are detected every
``person_every_n`` frames and their boxes carried over the frames between (held, and moved in
a straight line from one pass to the next). This measures what that costs in coverage,
holding the detector fixed: the reference is HOG run on *every* frame of the clip (the same
detector at the same size on the same decoded frames), and a reference box is *missed* on a
frame if any pixel of its centre (the middle half of its width and height: the torso) is
left outside every person box the pipeline masked that frame with. Scenes: the plain room of
``bench.export`` with two people (the scikit-image astronaut, half the frame's height)
walking across at ``--speeds`` pixels per frame at 720p (4: a slow walk far away; 16: someone
hurrying past close to the camera), bouncing off the frame's edges. No labelled set of people
ships in a registry package, so this judges the schedule, not HOG's own recall (which is
what it is on every frame).

Also the CPU of the people pass per frame (the process's user+system time of the whole
masking run with people, less the same run without them, same clip).

Run: .venv/bin/python -m bench.masking_people [--every 5 10] [--speeds 0 4 8 16]
"""

from __future__ import annotations

import argparse
import io
import os

import av
import cv2
import numpy as np
from skimage import data

from appliance.export.detect import PersonDetector
from appliance.export.masking import mask_video
from appliance.export.options import MaskingOptions, MaskPlan
from appliance.export.regions import Box, MaskKind
from bench.export import _room, cpu_s
from bench.masking import encode, uncovered
from bench.masking_set import Image

__all__ = ["main", "make_walk", "reference"]

WIDTH, HEIGHT = 1280, 720


def make_walk(speed: int, frames: int) -> list[Image]:
    """RGB frames of two people crossing the room at ``speed`` px per frame, one along the
    wall and one nearer, in opposite directions, bouncing off the edges."""
    person = data.astronaut()  # type: ignore[no-untyped-call]
    size = HEIGHT // 2
    sprite = cv2.resize(person, (size, size), interpolation=cv2.INTER_AREA)
    background = cv2.cvtColor(_room(WIDTH, HEIGHT), cv2.COLOR_BGR2RGB)
    span = WIDTH - size
    out: list[Image] = []
    for index in range(frames):
        image = np.array(background, np.uint8)
        for k, (start, y) in enumerate(((WIDTH // 10, HEIGHT // 8), (WIDTH // 2, HEIGHT // 3))):
            travel = (start + (index * speed if k == 0 else -index * speed)) % (2 * span)
            x = travel if travel <= span else 2 * span - travel
            image[y : y + size, x : x + size] = sprite
        out.append(image)
    return out


def reference(clip: bytes, opts: MaskingOptions) -> list[list[Box]]:
    """HOG's boxes on every decoded frame of ``clip``, as the pipeline would see them."""
    detector = PersonDetector(detect_width=opts.person_detect_width)
    boxes: list[list[Box]] = []
    with av.open(io.BytesIO(clip), "r") as container:
        for frame in container.decode(video=0):
            # The Y plane as decoded (limited range), as the pipeline hands it to HOG.
            yuv = frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
            luma = np.asarray(yuv.to_ndarray(), np.uint8)[: yuv.height]
            boxes.append(detector.detect(np.ascontiguousarray(luma)))
    return boxes


def _centre(box: Box) -> tuple[int, int, int, int]:
    x0, y0 = max(box.x + box.w // 4, 0), max(box.y + box.h // 4, 0)
    x1, y1 = min(box.x + box.w * 3 // 4, WIDTH), min(box.y + box.h * 3 // 4, HEIGHT)
    return x0, y0, max(x1 - x0, 0), max(y1 - y0, 0)


def judge(clip: bytes, truth: list[list[Box]], opts: MaskingOptions) -> tuple[int, int, float]:
    """(reference box-frames, missed, CPU s) of masking ``clip`` with ``opts``."""
    people: dict[int, list[Box]] = {}

    def observe(index: int, boxes: list[tuple[MaskKind, Box]]) -> None:
        people[index] = [b for kind, b in boxes if kind == MaskKind.person]

    c0 = cpu_s()
    mask_video(clip, MaskPlan(options=opts), observe=observe)
    cpu = cpu_s() - c0
    total = missed = 0
    for index, boxes in enumerate(truth):
        for box in boxes:
            centre = _centre(box)
            if centre[2] and centre[3]:
                total += 1
                missed += int(uncovered(centre, people.get(index, [])) > 0)
    return total, missed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--every", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--speeds", type=int, nargs="+", default=[0, 4, 8, 16])
    parser.add_argument("--frames", type=int, default=250)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; {args.frames} frames of 720p")
    for speed in args.speeds:
        clip = encode(make_walk(speed, args.frames))
        base = MaskingOptions(faces=False, people=False)
        c0 = cpu_s()
        mask_video(clip, MaskPlan(options=base))
        base_cpu = cpu_s() - c0
        c0 = cpu_s()
        truth = reference(clip, MaskingOptions())
        every_frame = (cpu_s() - c0) / len(truth)  # the baseline: decode + HOG every frame
        found = sum(len(b) for b in truth)
        print(
            f"speed {speed:2d} px/frame: HOG on every frame finds {found} boxes on "
            f"{sum(1 for b in truth if b)} of {len(truth)} frames "
            f"({1000 * every_frame:.1f} ms CPU a frame with decoding: the baseline)"
        )
        for every in args.every:
            opts = MaskingOptions(
                faces=False, person_every_n=every, person_hold_frames=max(10, every)
            )
            total, missed, cpu = judge(clip, truth, opts)
            cost = (cpu - base_cpu) / len(truth)
            print(
                f"  every {every:2d} frames: missed {missed:4d} of {total} box-frames "
                f"({100 * missed / max(total, 1):5.2f} %)  people pass "
                f"{1000 * cost:5.1f} ms CPU/frame (x{cost / every_frame:4.2f} of the baseline)"
            )


if __name__ == "__main__":
    main()
