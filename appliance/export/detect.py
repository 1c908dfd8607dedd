"""Third-party detectors (OpenCV): Haar faces on a half-size grey frame, the HOG person
detector every Nth frame, and the memory that carries boxes between detections.

A detector that misses a face on one frame would reveal it on that frame; the memory keeps
every box alive for a few frames so that flicker never shows a face.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import cv2.data
import numpy as np
import numpy.typing as npt

from appliance.errors import MediaError
from appliance.export.regions import Box

__all__ = ["FACE_CASCADE", "BoxMemory", "FaceDetector", "PersonDetector", "load_cascade"]

Grey = npt.NDArray[np.uint8]

FACE_CASCADE = "haarcascade_frontalface_default.xml"


def load_cascade(name: str) -> Any:
    """One of the Haar cascades shipped in the OpenCV wheel (``cv2.data.haarcascades``)."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if cascade.empty():
        raise MediaError(f"OpenCV's face cascade {name} did not load")
    return cascade


class FaceDetector:
    """Frontal faces with OpenCV's Haar cascade, on a grey frame scaled to half size."""

    def __init__(
        self, *, scale_factor: float = 1.15, min_neighbors: int = 4, min_size_px: int = 20
    ) -> None:
        self._cascade = load_cascade(FACE_CASCADE)
        self._scale_factor = scale_factor
        self._min_neighbors = min_neighbors
        self._min_size = (min_size_px, min_size_px)

    def detect(self, grey: Grey) -> list[Box]:
        """Faces in full-size pixel boxes of ``grey`` (detection runs at half size)."""
        height, width = grey.shape[:2]
        half = cv2.resize(grey, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        half = cv2.equalizeHist(half)
        found = self._cascade.detectMultiScale(
            half,
            scaleFactor=self._scale_factor,
            minNeighbors=self._min_neighbors,
            minSize=self._min_size,
        )
        return [Box(int(x), int(y), int(w), int(h)).scaled(2.0) for x, y, w, h in found]


class PersonDetector:
    """Whole people with OpenCV's default HOG + linear SVM detector, on a frame scaled down to
    at most ``detect_width`` pixels (the detector's window is 64 x 128)."""

    def __init__(self, *, detect_width: int = 640, hit_threshold: float = 0.0) -> None:
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(
            np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32)
        )
        self._detect_width = detect_width
        self._hit_threshold = hit_threshold

    def detect(self, grey: Grey) -> list[Box]:
        height, width = grey.shape[:2]
        scale = min(1.0, self._detect_width / width)
        small: npt.NDArray[Any] = grey
        if scale < 1.0:
            size = (round(width * scale), round(height * scale))
            small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        if small.shape[0] < 128 or small.shape[1] < 64:
            return []
        found, _weights = self._hog.detectMultiScale(
            small, hitThreshold=self._hit_threshold, winStride=(8, 8), scale=1.1
        )
        return [Box(int(x), int(y), int(w), int(h)).scaled(1.0 / scale) for x, y, w, h in found]


@dataclass
class _Held:
    first: int
    last: int
    box: Box


@dataclass
class BoxMemory:
    """Boxes found on sampled frames, each masking a window of frames around its own.

    A box found on frame ``k`` masks frames ``k - back`` to ``k + forward``. Export is not live,
    so frames wait in a short buffer until every detection that may cover them has run: with
    detection every N frames and ``back = N - 1``, a face that appears between two detections
    is masked from the first frame it shows, not from the next detection on.
    """

    back: int
    forward: int
    #: Also mask, on the frames between two detections, a box moved in a straight line from
    #: each box of the earlier detection to the nearest matching box of the later one (a
    #: walking face leaves a static box; the interpolated one follows it).
    interpolate: bool = False
    _held: list[_Held] = field(default_factory=list)
    _previous: tuple[int, list[Box]] | None = None

    def add(self, frame_index: int, boxes: list[Box]) -> None:
        first = frame_index - self.back
        for held in self._held:
            # The same face found again: the older box stops where the fresh one starts, so a
            # steady face is obscured once per frame, not once per remembered detection.
            if any(held.box.iou(new) >= 0.5 for new in boxes):
                held.last = min(held.last, first - 1)
        if self.interpolate and self._previous is not None:
            self._held.extend(_between(*self._previous, frame_index, boxes))
        self._previous = (frame_index, list(boxes))
        self._held.extend(_Held(first, frame_index + self.forward, box) for box in boxes)

    def at(self, frame_index: int) -> list[Box]:
        """Boxes that mask ``frame_index``; forgets those that end before it (call in order)."""
        self._held = [h for h in self._held if h.last >= frame_index]
        return [h.box for h in self._held if h.first <= frame_index]


def _between(earlier: int, old: list[Box], later: int, new: list[Box]) -> Iterator[_Held]:
    """Boxes on the frames strictly between two detections, for each pair that is plausibly
    the same face: sizes within a factor of two, centres within a distance that grows with
    the gap (a pairing of two different faces only masks more, never less)."""
    gap = later - earlier
    if gap < 2:
        return
    for a in old:
        best: Box | None = None
        best_d = math.inf
        for b in new:
            if not 0.5 <= b.w / max(a.w, 1) <= 2.0:
                continue
            d = math.hypot(b.x + b.w / 2 - a.x - a.w / 2, b.y + b.h / 2 - a.y - a.h / 2)
            if d <= max(a.w, b.w) * (0.5 + 0.5 * gap) and d < best_d:
                best, best_d = b, d
        if best is None:
            continue
        for step in range(1, gap):
            t = step / gap
            box = Box(
                round(a.x + (best.x - a.x) * t),
                round(a.y + (best.y - a.y) * t),
                round(a.w + (best.w - a.w) * t),
                round(a.h + (best.h - a.h) * t),
            )
            yield _Held(earlier + step, earlier + step, box)
