"""Rectangles: the officer's regions in normalised coordinates, pixel boxes, and the pure
geometry that turns detections and regions into what is masked on one frame."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from appliance.errors import ValidationFailed

__all__ = [
    "Box",
    "MaskKind",
    "NormRect",
    "Region",
    "box_to_norm",
    "clip_box",
    "expand_box",
    "outermost",
    "overlaps",
    "regions_at",
    "sample_spans",
]


class MaskKind(StrEnum):
    """Why a box is masked (counted per kind in the masking summary)."""

    face = "face"
    person = "person"
    officer = "officer"


@dataclass(frozen=True, slots=True)
class Box:
    """A pixel box: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return max(self.w, 0) * max(self.h, 0)

    def iou(self, other: Box) -> float:
        """Intersection over union: 1 for the same box, 0 for boxes that do not touch."""
        width = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        height = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        if width <= 0 or height <= 0:
            return 0.0
        inter = width * height
        return inter / (self.area + other.area - inter)

    def holds(self, x: float, y: float) -> bool:
        """Whether the point (``x``, ``y``) lies inside the box."""
        return self.x <= x < self.x + self.w and self.y <= y < self.y + self.h

    def contains(self, other: Box) -> bool:
        """Whether ``other`` lies wholly inside this box (edges may touch)."""
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.x + other.w <= self.x + self.w
            and other.y + other.h <= self.y + self.h
        )

    def scaled(self, factor: float) -> Box:
        return Box(
            round(self.x * factor),
            round(self.y * factor),
            round(self.w * factor),
            round(self.h * factor),
        )


@dataclass(frozen=True, slots=True)
class NormRect:
    """A rectangle in normalised frame coordinates (0..1, origin top left), so a region the
    officer drew on a preview applies at any resolution."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.x < 1.0 and 0.0 <= self.y < 1.0):
            raise ValidationFailed(f"region origin ({self.x}, {self.y}) is outside the frame")
        if not (0.0 < self.w <= 1.0 and 0.0 < self.h <= 1.0):
            raise ValidationFailed(f"region size ({self.w} x {self.h}) must be in (0, 1]")
        if self.x + self.w > 1.0 + 1e-9 or self.y + self.h > 1.0 + 1e-9:
            raise ValidationFailed("region extends beyond the frame")

    def to_box(self, width: int, height: int) -> Box:
        # Round outwards: a mask must never be a pixel short of what the officer drew.
        left, top = int(self.x * width), int(self.y * height)
        right = min(width, math.ceil((self.x + self.w) * width - 1e-6))
        bottom = min(height, math.ceil((self.y + self.h) * height - 1e-6))
        return Box(left, top, right - left, bottom - top)


@dataclass(frozen=True, slots=True)
class Region:
    """An officer-drawn rectangle, optionally bounded in time (UTC ms, start inclusive, end
    exclusive). Used both for extra masks and for the data subject's exemption."""

    rect: NormRect
    start_ms: int | None = None
    end_ms: int | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.start_ms is not None and self.end_ms is not None and self.end_ms <= self.start_ms:
            raise ValidationFailed("region time window ends before it starts")

    def active(self, t_ms: int) -> bool:
        if self.start_ms is not None and t_ms < self.start_ms:
            return False
        return self.end_ms is None or t_ms < self.end_ms

    def as_dict(self) -> dict[str, object]:
        return {
            "x": self.rect.x,
            "y": self.rect.y,
            "w": self.rect.w,
            "h": self.rect.h,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "label": self.label,
        }


def regions_at(regions: Iterable[Region], t_ms: int, width: int, height: int) -> list[Box]:
    """Pixel boxes of the regions active at ``t_ms``."""
    return [r.rect.to_box(width, height) for r in regions if r.active(t_ms)]


def expand_box(box: Box, margin: float) -> Box:
    """Grow a box by ``margin`` of its size on every side (detections are tight; masks not)."""
    dx, dy = round(box.w * margin), round(box.h * margin)
    return Box(box.x - dx, box.y - dy, box.w + 2 * dx, box.h + 2 * dy)


def clip_box(box: Box, width: int, height: int) -> Box | None:
    """The part of ``box`` inside the frame, or None if nothing is."""
    left, top = max(box.x, 0), max(box.y, 0)
    right, bottom = min(box.x + box.w, width), min(box.y + box.h, height)
    if right <= left or bottom <= top:
        return None
    return Box(left, top, right - left, bottom - top)


def overlaps(box: Box, others: Sequence[Box]) -> bool:
    """Whether ``box`` shares any pixel with one of ``others``."""
    return any(
        box.x < o.x + o.w and o.x < box.x + box.w and box.y < o.y + o.h and o.y < box.y + box.h
        for o in others
    )


def sample_spans(start_ms: int, end_ms: int, count: int) -> list[tuple[int, int]]:
    """``count`` consecutive spans covering [start_ms, end_ms) (fewer if it is shorter than
    ``count`` ms): the mask editor shows one sample frame per span, and a rectangle drawn on
    a frame holds for its span (start inclusive, end exclusive)."""
    if end_ms <= start_ms or count < 1:
        raise ValidationFailed("sample spans need a non-empty range and at least one span")
    count = min(count, end_ms - start_ms)
    edges = [start_ms + (end_ms - start_ms) * i // count for i in range(count + 1)]
    return list(pairwise(edges))


def box_to_norm(box: Box, width: int, height: int) -> NormRect:
    """A pixel box as a normalised rectangle, clipped to the frame (for drawing detections
    on a scaled still)."""
    clipped = clip_box(box, width, height) or Box(0, 0, 1, 1)
    return NormRect(clipped.x / width, clipped.y / height, clipped.w / width, clipped.h / height)


def outermost(boxes: Sequence[Box]) -> list[Box]:
    """``boxes`` less those wholly inside another (of two equal boxes, one stays): masking
    the outer box already hides them, and a person carried over a gap is often held,
    interpolated and tracked at once."""
    return [
        box
        for i, box in enumerate(boxes)
        if not any(
            j != i and other.contains(box) and (other != box or j < i)
            for j, other in enumerate(boxes)
        )
    ]
