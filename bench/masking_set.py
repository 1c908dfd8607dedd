"""A labelled set of faces in CCTV-like scenes, made at run time from pictures that ship inside
registry packages (nothing is downloaded, no media is committed), deterministic for a seed.

Sources (all in the scikit-image wheel, ``skimage.data``):
- ``astronaut()``: Eileen Collins, NASA; "no known copyright restrictions, released into the
  public domain" (scikit-image's notes). A frontal face in colour.
- ``camera()``: the cameraman, re-shot for scikit-image 0.18 by Lav Varshney, CC0. A face
  in three-quarter profile, grey.
- ``lfw_subset()``: 100 faces cropped to 25 x 25 px from Labeled Faces in the Wild (Huang et
  al., UMass Amherst; news photographs collected for face research), grey. Used at about
  their own size (the small faces), never enlarged past 40 px. Its 100 non-face crops are
  hung on the walls as clutter (false positives).
- ``brick()``, ``gravel()``, ``coffee()``: wall, floor and a poster.

Each scene is a 1080p frame sequence (a lobby: wall, floor, a door, a counter, posters, sensor
noise) with five faces, each of one category; every face has a known box on every frame:

========== =================================================================
category   what
========== =================================================================
24px       upright, 22..26 px wide (LFW, astronaut, cameraman shrunk)
32px       upright, 30..36 px
48px       upright, 46..56 px
64px       upright, 60..76 px
96px       upright, 88..160 px
rotated    48..112 px, turned 8..20 degrees either way
dim        32..112 px, brightness x0.3..0.45 and more noise
blurred    32..112 px, Gaussian blur (sigma 4..7 % of the face)
covered    48..112 px, a third of the face hidden (a mask, a hand, a door edge)
moving     32..112 px, walking across at 4..12 px per frame
========== =================================================================

Labels are the face box (brow to chin, ear to ear) in full-frame pixels; ``centre`` is the
middle half of it (a quarter of its area), the part that must never show unmasked.

*Arrivals* (``build_set(..., arrivals=True)``, ``bench.masking --arrivals``): every face of a
scene appears on a frame of its own in the middle half of the scene (someone stepping out from
behind the door or a pillar, or into the picture) instead of on the first frame. A masked copy
is minutes long, so most faces in it come in while the clip is under way; the first frames of
a clip, where every tile is scanned in turn, are the easy case, and this is the other one:
the face has to be found by the passes as they run in the middle of a clip. Before its first
frame a face has no label.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
from skimage import data

__all__ = [
    "CATEGORIES",
    "FaceLabel",
    "Scene",
    "build_set",
    "resize_scene",
]

Image = npt.NDArray[np.uint8]
Rect = tuple[int, int, int, int]  # x, y, w, h

CATEGORIES = (
    "24px",
    "32px",
    "48px",
    "64px",
    "96px",
    "rotated",
    "dim",
    "blurred",
    "covered",
    "moving",
)
_SIZES = {
    "24px": (22, 26),
    "32px": (30, 36),
    "48px": (46, 56),
    "64px": (60, 76),
    "96px": (88, 160),
    "rotated": (48, 112),
    "dim": (32, 112),
    "blurred": (32, 112),
    "covered": (48, 112),
    "moving": (32, 112),
}
FACES_PER_SCENE = 5


@dataclass(frozen=True)
class _Sprite:
    """A source picture (RGB) and the face box in it."""

    name: str
    image: Image
    face: Rect


@dataclass
class FaceLabel:
    """One labelled face: its category, source, and box on each frame of its scene."""

    face_id: int
    category: str
    source: str
    size: int
    boxes: list[Rect] = field(default_factory=list)
    first: int = 0  # the first frame it shows on; ``boxes`` start there too (index - first)

    def visible(self, frame: int) -> bool:
        return self.first <= frame < self.first + len(self.boxes)

    def box(self, frame: int) -> Rect:
        return self.boxes[frame - self.first]

    def centre(self, frame: int) -> Rect:
        x, y, w, h = self.box(frame)
        return (x + w // 4, y + h // 4, max(1, w // 2), max(1, h // 2))


@dataclass
class Scene:
    frames: list[Image]  # RGB
    faces: list[FaceLabel]

    @property
    def size(self) -> tuple[int, int]:
        height, width = self.frames[0].shape[:2]
        return width, height


def _sprites() -> tuple[list[_Sprite], list[_Sprite], list[Image]]:
    """(large sources, small sources, non-face clutter)."""
    astronaut = np.ascontiguousarray(data.astronaut())  # type: ignore[no-untyped-call]
    camera = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB)  # type: ignore[no-untyped-call]
    large = [
        _Sprite("astronaut", astronaut, (180, 60, 92, 116)),
        _Sprite("cameraman", np.asarray(camera, np.uint8), (184, 100, 74, 96)),
    ]
    lfw = (data.lfw_subset() * 255).round().astype(np.uint8)  # type: ignore[no-untyped-call]
    small = [
        _Sprite(f"lfw{i:03d}", np.asarray(cv2.cvtColor(lfw[i], cv2.COLOR_GRAY2RGB)), (0, 0, 25, 25))
        for i in range(100)
    ]
    clutter = [np.asarray(cv2.cvtColor(lfw[i], cv2.COLOR_GRAY2RGB)) for i in range(100, 200)]
    return large, small, clutter


def _background(width: int, height: int, rng: np.random.Generator, clutter: list[Image]) -> Image:
    """A lobby: brick wall, gravel floor, a door, a counter, a poster and some clutter."""
    wall_h = height * 2 // 3
    brick = cv2.cvtColor(data.brick(), cv2.COLOR_GRAY2RGB)  # type: ignore[no-untyped-call]
    gravel = cv2.cvtColor(data.gravel(), cv2.COLOR_GRAY2RGB)  # type: ignore[no-untyped-call]
    image = np.empty((height, width, 3), np.uint8)
    tint = rng.uniform(0.75, 1.0, 3)
    image[:wall_h] = np.clip(cv2.resize(brick, (width, wall_h)) * tint * 0.6 + 70, 0, 255)
    image[wall_h:] = np.clip(cv2.resize(gravel, (width, height - wall_h)) * 0.5 + 40, 0, 255)
    door_x = int(rng.integers(width // 20, width // 3))
    cv2.rectangle(image, (door_x, height // 6), (door_x + width // 10, wall_h), (90, 70, 50), -1)
    counter_x = int(rng.integers(width // 2, width * 3 // 4))
    cv2.rectangle(
        image, (counter_x, height // 2), (counter_x + width // 5, height * 4 // 5), (60, 60, 70), -1
    )
    poster = cv2.resize(data.coffee(), (width // 12, width // 16))  # type: ignore[no-untyped-call]
    px, py = int(rng.integers(0, width - poster.shape[1])), height // 10
    image[py : py + poster.shape[0], px : px + poster.shape[1]] = poster
    for k in rng.choice(len(clutter), 6, replace=False):
        size = int(rng.integers(24, 60))
        cx, cy = int(rng.integers(0, width - size)), int(rng.integers(0, wall_h - size))
        image[cy : cy + size, cx : cx + size] = cv2.resize(clutter[int(k)], (size, size))
    return image


def _render(
    sprite: _Sprite, size: int, category: str, rng: np.random.Generator
) -> tuple[Image, Image, Rect]:
    """The face with some context scaled so its box is ``size`` wide, with the category's
    change applied: (RGB patch, alpha 0..255, face box in the patch)."""
    fx, fy, fw, fh = sprite.face
    scale = size / fw
    # Context around the face (hair, collar), as far as the source picture goes.
    src_h, src_w = sprite.image.shape[:2]
    x0, y0 = max(0, fx - fw // 2), max(0, fy - fh // 2)
    x1, y1 = min(src_w, fx + fw + fw // 2), min(src_h, fy + fh + fh // 3)
    crop = sprite.image[y0:y1, x0:x1]
    out_w, out_h = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    patch = cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_AREA)
    face = (round((fx - x0) * scale), round((fy - y0) * scale), size, round(fh * scale))
    alpha = np.full(patch.shape[:2], 255, np.uint8)
    work = np.asarray(patch, np.float32)
    if category == "dim":
        work *= rng.uniform(0.3, 0.45)
    if category == "blurred":
        sigma = size * rng.uniform(0.04, 0.07)
        work = np.asarray(cv2.GaussianBlur(work, (0, 0), sigma), np.float32)
    if category == "covered":
        x, y, w, h = face
        kind = int(rng.integers(0, 3))
        colour = tuple(float(c) for c in rng.uniform(30, 220, 3))
        if kind == 0:  # a medical mask over mouth and nose
            cv2.rectangle(work, (x, y + h * 5 // 8), (x + w, y + h), colour, -1)
        elif kind == 1:  # a hand or a phone over one side
            cv2.rectangle(work, (x, y + h // 3), (x + w // 3, y + h), colour, -1)
        else:  # a door edge or a pillar over the other side
            cv2.rectangle(work, (x + w * 2 // 3, y), (x + w, y + h), colour, -1)
    if category == "rotated":
        angle = float(rng.uniform(8, 20) * rng.choice([-1, 1]))
        x, y, w, h = face
        centre = (x + w / 2, y + h / 2)
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        size_wh = (work.shape[1], work.shape[0])
        work = np.asarray(cv2.warpAffine(work, matrix, size_wh, flags=cv2.INTER_LINEAR), np.float32)
        alpha = cv2.warpAffine(alpha, matrix, size_wh, flags=cv2.INTER_LINEAR)
    return np.clip(work, 0, 255).astype(np.uint8), alpha, face


def _paste(frame: Image, patch: Image, alpha: Image, x: int, y: int) -> None:
    height, width = frame.shape[:2]
    ph, pw = patch.shape[:2]
    left, top = max(0, x), max(0, y)
    right, bottom = min(width, x + pw), min(height, y + ph)
    if right <= left or bottom <= top:
        return
    sub = patch[top - y : bottom - y, left - x : right - x].astype(np.float32)
    a = alpha[top - y : bottom - y, left - x : right - x, None].astype(np.float32) / 255.0
    region = frame[top:bottom, left:right].astype(np.float32)
    frame[top:bottom, left:right] = (sub * a + region * (1.0 - a)).astype(np.uint8)


def _scene_faces(index: int) -> list[str]:
    """Categories of scene ``index``: every category in turn, five per scene."""
    start = index * FACES_PER_SCENE
    return [CATEGORIES[(start + k) % len(CATEGORIES)] for k in range(FACES_PER_SCENE)]


def _scene(
    index: int,
    frames: int,
    width: int,
    height: int,
    rng: np.random.Generator,
    sources: tuple[list[_Sprite], list[_Sprite], list[Image]],
    arrivals: bool,
) -> Scene:
    large, small, clutter = sources
    background = _background(width, height, rng, clutter)
    # Five cells of a 5 x 2 grid over the upper 90 % (no two faces overlap).
    cells = rng.choice(10, FACES_PER_SCENE, replace=False)
    cell_w, cell_h = width // 5, int(height * 0.9) // 2
    placed: list[tuple[FaceLabel, Image, Image, Rect, float, float, float, float]] = []
    for k, (category, cell) in enumerate(zip(_scene_faces(index), cells, strict=True)):
        lo, hi = _SIZES[category]
        size = int(rng.integers(lo, hi + 1))
        if size <= 40 and rng.random() < 0.7:
            sprite = small[int(rng.integers(0, len(small)))]
        else:
            sprite = large[int(rng.integers(0, len(large)))]
        patch, alpha, face = _render(sprite, size, category, rng)
        if rng.random() < 0.5:  # mirror: a face turned the other way
            patch, alpha = patch[:, ::-1].copy(), alpha[:, ::-1].copy()
            face = (patch.shape[1] - face[0] - face[2], face[1], face[2], face[3])
        col, row = int(cell) % 5, int(cell) // 5
        room_x = max(1, cell_w - patch.shape[1])
        room_y = max(1, cell_h - patch.shape[0])
        x = col * cell_w + int(rng.integers(0, room_x))
        y = row * cell_h + height // 20 + int(rng.integers(0, room_y))
        vx = vy = 0.0
        if category == "moving":
            speed = float(rng.uniform(4, 12))
            vx = speed if x < width // 2 else -speed
            vy = float(rng.uniform(-1, 1))
        label = FaceLabel(index * FACES_PER_SCENE + k, category, sprite.name, size)
        if arrivals:  # drawn last, so the default set is the same with or without this code
            label.first = int(rng.integers(frames // 4, frames * 3 // 4 + 1))
        placed.append((label, patch, alpha, face, float(x), float(y), vx, vy))
    images: list[Image] = []
    for f in range(frames):
        frame = background.copy()
        for label, patch, alpha, face, x_start, y_start, vx, vy in placed:
            jitter = rng.integers(-1, 2, 2)  # a person standing still still sways
            if f < label.first:
                continue
            px = round(x_start + vx * (f - label.first)) + int(jitter[0])
            py = round(y_start + vy * (f - label.first)) + int(jitter[1])
            _paste(frame, patch, alpha, px, py)
            label.boxes.append((px + face[0], py + face[1], face[2], face[3]))
        noise = rng.normal(0, 3.0, frame.shape)
        images.append(np.clip(frame + noise, 0, 255).astype(np.uint8))
    return Scene(images, [p[0] for p in placed])


def build_set(
    scenes: int = 25,
    frames: int = 16,
    width: int = 1920,
    height: int = 1080,
    seed: int = 20,
    *,
    arrivals: bool = False,
) -> Iterator[Scene]:
    """``scenes`` scenes of ``frames`` frames (25 x 5 = 125 faces by default), made one at a
    time (a 1080p scene of 16 frames is 100 MB of RGB); ``arrivals``: faces come in mid-scene."""
    sources = _sprites()
    for index in range(scenes):
        rng = np.random.default_rng([seed, index])
        yield _scene(index, frames, width, height, rng, sources, arrivals)


def resize_scene(scene: Scene, width: int, height: int) -> Scene:
    """The same scene at another resolution (labels scaled)."""
    sx, sy = width / scene.size[0], height / scene.size[1]
    frames = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in scene.frames]
    faces = [
        FaceLabel(
            f.face_id,
            f.category,
            f.source,
            round(f.size * sx),
            [
                (round(x * sx), round(y * sy), round(w * sx), round(h * sy))
                for x, y, w, h in f.boxes
            ],
            f.first,
        )
        for f in scene.faces
    ]
    return Scene([np.asarray(f, np.uint8) for f in frames], faces)
