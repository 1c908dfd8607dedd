"""Masking quality and speed: Haar against CenterFace on a labelled set (bench/masking_set.py).

Quality, per face category, for each face model run through the whole masking pipeline
(``mask_video``: schedule, carry-over, margins, H.264 in and out):
- *detected*: the share of faces found by ``detect_frame`` (what the mask editor shows) on
  the scene's first frame: a box holding the centre of the face's label;
- *leaks*: the share of face-frames on which any pixel of the labelled centre of the face (the
  middle half of its box) is outside every obscured box; checked against the labels, not a
  detector. Faces of 48 px and more are counted apart (the issue allows them no leak);
- *FP/frame*: obscured face boxes per frame that touch no labelled face (distinct boxes).

``--arrivals`` (with longer scenes, ``--frames 128``): each face comes in on a frame of the
middle half of its scene instead of being there from the start (bench/masking_set.py says
why); *detected* is then judged on the face's first frame, and its leaks from there on.

Speed: fps, x real time (25 fps) and CPU ms per frame of ``mask_video`` at 720p and 1080p on
the first scenes joined into one clip, beside a plain decode + re-encode of the same clip (the
baseline, same run). Each scene lasts ``--speed-seconds`` (its frames played forwards and
back: a fixed camera does not cut to another room every 16 frames); ``--speed-seconds 0``
keeps each scene's own 16 frames, the worst case, where the per-clip cost of the tile pass
(every tile scanned at the start and again at the end) is paid every 0.64 s of footage. CPU
is the process's user+system time: it holds when other work shares the machine, fps does not.

Run: .venv/bin/python -m bench.masking [--scenes 25] [--frames 16] [--speed-scenes 4]
[--speed-seconds 10] [--seed 20] [--arrivals]

The defaults were chosen looking at seed 20's set; ``--seed 21`` (or any other) draws a set the
pipeline was not tuned on, with the same categories and sizes.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from appliance.export.masking import detect_frame, mask_video
from appliance.export.options import FaceModel, MaskingOptions, MaskPlan
from appliance.export.regions import Box, MaskKind
from bench.export import REAL_TIME_FPS, cpu_s, transcode_only
from bench.masking_set import CATEGORIES, FaceLabel, Image, Scene, build_set, resize_scene
from tests.support.astronaut import encode_clip

__all__ = ["Tally", "encode", "evaluate_scene", "main", "uncovered"]

MODELS = {
    "haar": MaskingOptions(face_model=FaceModel.haar, people=False),
    "centerface": MaskingOptions(people=False),
}


def encode(frames: Sequence[Image], crf: int = 23) -> bytes:
    """An H.264 MP4 in memory from RGB frames (what a camera records)."""
    return encode_clip(frames, crf=crf)


def uncovered(centre: tuple[int, int, int, int], boxes: Sequence[Box]) -> int:
    """Pixels of ``centre`` (x, y, w, h) outside every box."""
    x, y, w, h = centre
    shown = np.ones((h, w), bool)
    for b in boxes:
        left, top = max(b.x - x, 0), max(b.y - y, 0)
        right, bottom = min(b.x + b.w - x, w), min(b.y + b.h - y, h)
        if right > left and bottom > top:
            shown[top:bottom, left:right] = False
    return int(shown.sum())


def _touches(box: Box, labels: Sequence[tuple[int, int, int, int]]) -> bool:
    return any(
        box.x < x + w and x < box.x + box.w and box.y < y + h and y < box.y + box.h
        for x, y, w, h in labels
    )


@dataclass
class Tally:
    """Counts for one face model over the set."""

    faces: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    detected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    face_frames: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    leaks: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    frames: int = 0
    false_boxes: int = 0
    large_face_frames: int = 0
    large_leaks: int = 0
    leaked: list[str] = field(default_factory=list)

    def total(self, counts: dict[str, int]) -> int:
        return sum(counts.values())


def evaluate_scene(scene: Scene, options: MaskingOptions, tally: Tally) -> None:
    """Mask ``scene`` with ``options`` and add what showed to ``tally``."""
    clip = encode(scene.frames)
    obscured: dict[int, list[Box]] = {}

    def observe(index: int, boxes: list[tuple[MaskKind, Box]]) -> None:
        obscured[index] = [b for _kind, b in boxes]

    masked = mask_video(clip, MaskPlan(options=options), observe=observe)
    assert masked.summary.frames == len(scene.frames)
    found: dict[int, list[Box]] = {}  # by frame: each face is looked for on its first frame
    for face in scene.faces:
        tally.faces[face.category] += 1
        if face.first not in found:
            first = cv2.cvtColor(scene.frames[face.first], cv2.COLOR_RGB2BGR)
            boxes = detect_frame(np.asarray(first, np.uint8), options)
            found[face.first] = [b for kind, b in boxes if kind == "face"]
        cx, cy, cw, ch = face.centre(face.first)
        point = (cx + cw // 2, cy + ch // 2)
        if any(
            b.x <= point[0] < b.x + b.w and b.y <= point[1] < b.y + b.h for b in found[face.first]
        ):
            tally.detected[face.category] += 1
        _leaks(scene, face, obscured, tally)
    for index in range(len(scene.frames)):
        tally.frames += 1
        labels = [f.box(index) for f in scene.faces if f.visible(index)]
        distinct = set(obscured.get(index, []))
        tally.false_boxes += sum(1 for b in distinct if not _touches(b, labels))


def _leaks(scene: Scene, face: FaceLabel, obscured: dict[int, list[Box]], tally: Tally) -> None:
    width, height = scene.size
    for index in range(face.first, face.first + len(face.boxes)):
        x, y, w, h = face.centre(index)
        # Only the part inside the frame can show.
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, width), min(y + h, height)
        if x1 <= x0 or y1 <= y0:
            continue
        tally.face_frames[face.category] += 1
        large = face.size >= 48
        tally.large_face_frames += int(large)
        if uncovered((x0, y0, x1 - x0, y1 - y0), obscured.get(index, [])):
            tally.leaks[face.category] += 1
            tally.large_leaks += int(large)
            tally.leaked.append(f"face {face.face_id} {face.category} {face.size}px frame {index}")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "   -  "


def report(tallies: dict[str, Tally]) -> None:
    names = list(tallies)
    print(
        f"{'category':<9} {'faces':>5} " + " ".join(f"{n + ' det':>14} {'leaks':>7}" for n in names)
    )
    for category in CATEGORIES:
        first = tallies[names[0]]
        row = f"{category:<9} {first.faces[category]:>5} "
        for name in names:
            t = tallies[name]
            row += f"{_pct(t.detected[category], t.faces[category]):>14} "
            row += f"{_pct(t.leaks[category], t.face_frames[category]):>7} "
        print(row)
    for name, t in tallies.items():
        print(
            f"{name}: detected {_pct(t.total(t.detected), t.total(t.faces))} of "
            f"{t.total(t.faces)} faces; leaks {t.total(t.leaks)} of {t.total(t.face_frames)} "
            f"face-frames ({_pct(t.total(t.leaks), t.total(t.face_frames)).strip()}), "
            f"faces >= 48 px: {t.large_leaks} of {t.large_face_frames}; "
            f"FP {t.false_boxes / max(t.frames, 1):.2f} boxes/frame"
        )


def held(frames: list[Image], count: int) -> list[Image]:
    """``count`` frames: ``frames`` played forwards, back and forwards again (no copies)."""
    if count <= len(frames) or len(frames) < 2:
        return frames
    cycle = frames + frames[-2:0:-1]
    return [cycle[i % len(cycle)] for i in range(count)]


def speed(scenes: list[Scene], label: str, width: int, height: int, seconds: float) -> None:
    per_scene = round(seconds * REAL_TIME_FPS)
    frames = [f for s in scenes for f in held(resize_scene(s, width, height).frames, per_scene)]
    clip = encode(frames)
    t0, c0 = time.perf_counter(), cpu_s()
    count = transcode_only(clip)
    base_wall, base_cpu = time.perf_counter() - t0, cpu_s() - c0
    base_fps = count / base_wall
    print(
        f"{label:>5} transcode       {base_fps:5.1f} fps  x{base_fps / REAL_TIME_FPS:4.2f} real "
        f"time  CPU {1000 * base_cpu / count:5.1f} ms/frame (baseline)"
    )
    runs = {
        "haar faces": MODELS["haar"],
        "centerface faces": MODELS["centerface"],
        "centerface+people": MaskingOptions(),
    }
    warm = encode(frames[:2])
    for name, options in runs.items():
        mask_video(warm, MaskPlan(options=options))  # loads the networks: not per-frame work
        t0, c0 = time.perf_counter(), cpu_s()
        masked = mask_video(clip, MaskPlan(options=options))
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        fps = masked.summary.frames / wall
        print(
            f"{label:>5} {name:<17} {fps:5.1f} fps  x{fps / REAL_TIME_FPS:4.2f} real time  "
            f"x{fps / base_fps:4.2f} of transcode  CPU {1000 * cpu / count:5.1f} ms/frame"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=25)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--speed-scenes", type=int, default=4)
    parser.add_argument("--speed-seconds", type=float, default=10.0)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--show-leaks", action="store_true")
    parser.add_argument(
        "--arrivals",
        action="store_true",
        help="faces come in mid-scene, not on its first frame (use with --frames 128)",
    )
    parser.add_argument(
        "--seed", type=int, default=20, help="another seed draws a different set (hold-out)"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at start")
    if not args.skip_quality:
        tallies = {name: Tally() for name in MODELS}
        for scene in build_set(args.scenes, args.frames, seed=args.seed, arrivals=args.arrivals):
            for name, options in MODELS.items():
                evaluate_scene(scene, options, tallies[name])
        report(tallies)
        if args.show_leaks:
            for name, t in tallies.items():
                print(name, "leaked:", *t.leaked[:60], sep="\n  ")
    speed_scenes = list(build_set(args.speed_scenes, args.frames))
    for label, (w, h) in {"720p": (1280, 720), "1080p": (1920, 1080)}.items():
        if speed_scenes:
            speed(speed_scenes, label, w, h, args.speed_seconds)
    print(f"load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
