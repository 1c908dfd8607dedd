"""Small faces at full resolution at a bounded cost per frame: tiles scanned in turn.

A face of 24..40 px in a 1080p frame is too small for the coarse pass (the frame scaled to
640 px wide), and running the network on the whole frame at full size costs about a second
of CPU. So the frame is cut into overlapping tiles (about 640 px, overlapping by more than
the largest small face, so every small face lies whole in some tile), and tiles are scanned
at full resolution or more (``TilePlanner``):

- at the start of the clip, one tile every other frame until the whole frame has been seen
  (16 frames at 1080p, 0.6 s);
- then one tile every ``every_n`` frames: a tile where something came in since the slot
  before (it changed after being still) first, then a tile whose picture changed since its
  last scan (*motion gating*) before one that did not, and among those the one scanned
  longest ago; while tiles where something came in wait, one more scan half-way between
  slots (a burst of people coming in is not scanned one per slot);
- at the end of the clip every tile not scanned since it last changed is scanned on the last
  frame, so a short clip is still covered whole.

A box found in a tile is then followed backwards and forwards by ``appliance.export.track``
(template matching), so a face found on one scan of its tile is masked on every frame it stays in
view. Whether a tile changed is a cheap difference of quarter-size grey thumbnails.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from appliance.export.regions import Box

__all__ = [
    "PIXEL_CHANGE",
    "THUMB_SCALE",
    "Plane",
    "TilePlanner",
    "changed",
    "differs",
    "network_side",
    "thumbnail",
    "tile_grid",
]

Plane = npt.NDArray[np.uint8]

#: Thumbnails are a quarter of the frame's width and height (a 24 px face is 6 px in them).
THUMB_SCALE = 4
#: A thumbnail pixel differing by more than this (grey levels) has changed: well above the
#: sensor and compression noise left after averaging 4 x 4 pixels.
PIXEL_CHANGE = 16
#: Thumbnail pixels of a tile that must have changed for the tile to count as changed.
_COMING_IN = 12


def network_side(side: int, scale: float) -> int:
    """The network's input side for a tile side of ``side`` pixels enlarged ``scale`` times:
    rounded up to the network's stride of 32."""
    return -(-round(side * scale) // 32) * 32


def tile_grid(width: int, height: int, size: int, overlap: int, scale: float = 1.0) -> list[Box]:
    """Tiles of about ``size`` (at most the frame) covering the frame, spread evenly,
    neighbours overlapping by at least ``overlap`` pixels; the last row and column are flush
    with the frame's edge. Each tile is enlarged ``scale`` times for the network, whose input
    sides are multiples of 32 (its stride): a tile's sides are the largest even sizes that
    keep to the smallest such input (``network_side``; at 720p and 1.5 x, 490 x 404 px in
    736 x 608 instead of 480 x 416 in 736 x 640: the network's cost grows with its input
    area)."""

    def spans(total: int) -> list[tuple[int, int]]:
        if total <= size:
            return [(0, total)]
        count = math.ceil((total - overlap) / (size - overlap))
        least = math.ceil((total + (count - 1) * overlap) / count)
        least += least % 2
        net = network_side(least, scale)
        tile = min(total, max(least, math.floor(net / scale) & ~1))
        step = (total - tile) / (count - 1)
        return [(round(i * step) & ~1, tile) for i in range(count)]

    return [Box(x, y, w, h) for y, h in spans(height) for x, w in spans(width)]


def thumbnail(y: Plane) -> Plane:
    """The grey plane at a quarter of its size (for change checks and people's tracks): the
    mean of each 4 x 4 block, taken as two halvings (OpenCV's area resize has a fast path for
    exactly half, and takes 6-8 times longer for a quarter in one step: 0.8 against 0.12 ms
    at 720p; the two differ by at most one grey level of rounding)."""
    height, width = y.shape[:2]
    half = (max(1, width // 2), max(1, height // 2))
    step = np.asarray(cv2.resize(y, half, interpolation=cv2.INTER_AREA), np.uint8)
    size = (max(1, width // THUMB_SCALE), max(1, height // THUMB_SCALE))
    return np.asarray(cv2.resize(step, size, interpolation=cv2.INTER_AREA), np.uint8)


def _region(thumb: Plane, box: Box) -> Plane:
    s = THUMB_SCALE
    x0, y0 = max(box.x // s, 0), max(box.y // s, 0)
    x1, y1 = max((box.x + box.w + s - 1) // s, x0 + 1), max((box.y + box.h + s - 1) // s, y0 + 1)
    return thumb[y0:y1, x0:x1]


def differs(a: Plane, b: Plane, *, pixels: int = 0) -> bool:
    """Whether more than ``pixels`` pixels differ clearly between thumbnails ``a`` and ``b``
    (thumbnails of different sizes always do)."""
    if a.shape != b.shape:
        return True
    return int(np.count_nonzero(cv2.absdiff(a, b) > PIXEL_CHANGE)) > pixels


_NEIGHBOURS = np.ones((3, 3), np.uint8)


def changed(a: Plane, b: Plane, box: Box, *, pixels: int = 3) -> bool:
    """Whether more than ``pixels`` thumbnail pixels inside ``box`` (full-frame pixels) of
    ``b`` differ clearly from every pixel around them in ``a`` (the same place and its eight
    neighbours): something came in or moved, not a person swaying in place or an edge
    shifting by a pixel, which a plain difference counts along every edge."""
    ra, rb = _region(a, box), _region(b, box)
    if ra.size == 0 or ra.shape != rb.shape:
        return True
    low = cv2.erode(ra, _NEIGHBOURS)
    high = cv2.dilate(ra, _NEIGHBOURS)
    brighter = cv2.subtract(rb, high) > PIXEL_CHANGE
    darker = cv2.subtract(low, rb) > PIXEL_CHANGE
    return int(np.count_nonzero(brighter | darker)) > pixels


class TilePlanner:
    """Which tile, if any, to scan on each frame (see the module's docstring)."""

    def __init__(self, tiles: list[Box], every_n: int) -> None:
        self.tiles = tiles
        self.every_n = every_n
        self._scanned_at: list[int | None] = [None] * len(tiles)
        self._scanned_thumb: list[Plane | None] = [None] * len(tiles)
        # Arrivals: at each regular slot, which tiles changed since the slot before (and
        # whether they had been still before that); tiles where something came in wait in
        # ``_arrived`` for a scan, regular or extra.
        self._slot_thumb: Plane | None = None
        self._moving: list[bool] | None = None
        self._arrived: set[int] = set()

    @property
    def first_cover(self) -> int:
        """Frames within which every tile has been scanned once from the start of the clip."""
        return 2 * len(self.tiles)

    def _changed(self, i: int, thumb: Plane) -> bool:
        seen = self._scanned_thumb[i]
        tile = self.tiles[i]
        # A face coming in changes its whole area in the thumbnail (a 24 px face about 30
        # pixels); swaying in place is not counted (``changed``), noise stays under the step.
        return seen is None or changed(seen, thumb, tile, pixels=_COMING_IN)

    def _mark(self, i: int, index: int, thumb: Plane) -> Box:
        self._scanned_at[i] = index
        self._scanned_thumb[i] = thumb
        return self.tiles[i]

    def due(self, index: int, y: Plane, thumb: Plane | None = None) -> Box | None:
        """The tile to scan on frame ``index`` (whose grey plane is ``y``, and thumbnail
        ``thumb`` if the caller made it already), or None."""
        if not self.tiles:
            return None
        fresh = [i for i, at in enumerate(self._scanned_at) if at is None]
        phase = index % self.every_n
        pick: int | None = None
        if fresh:
            # The start of the clip: a tile every other frame (odd frames: the coarse pass
            # runs on multiples of its interval) until the whole frame has been seen.
            if index % 2 == 0:
                return None
            pick = fresh[0]
        elif phase == 0 and self._arrived:
            # An extra slot, half-way between regular ones, while tiles where something came
            # in wait: a burst of arrivals is scanned every half interval, not one a slot.
            pick = min(self._arrived, key=lambda i: self._scanned_at[i] or 0)
        elif phase != self.every_n // 2:
            # Otherwise in mid-interval (frames 8, 24, 40...), mostly apart from the coarse
            # passes (every 10 frames by default), so that two worker threads share the work.
            return None
        # Only on the frames that scan (half a millisecond at 720p).
        seen = thumbnail(y) if thumb is None else thumb
        if pick is None:
            self._note_arrivals(seen)

            def priority(i: int) -> tuple[bool, bool, int]:
                at = self._scanned_at[i]
                assert at is not None
                return i in self._arrived, self._changed(i, seen), index - at

            pick = max(range(len(self.tiles)), key=priority)
        self._arrived.discard(pick)
        return self._mark(pick, index, seen)

    def _note_arrivals(self, thumb: Plane) -> None:
        """Tiles that changed since the last regular slot after being still the slot before
        (someone came in, not someone walking on) join the arrivals."""
        before, self._slot_thumb = self._slot_thumb, thumb
        if before is None:
            return
        moving = [changed(before, thumb, tile, pixels=_COMING_IN) for tile in self.tiles]
        if self._moving is not None:
            self._arrived.update(i for i, now in enumerate(moving) if now and not self._moving[i])
        self._moving = moving

    def remaining(self, index: int, y: Plane) -> list[Box]:
        """At the end of the clip (frame ``index``, grey plane ``y``): the tiles never scanned
        or changed since their last scan, marked as scanned now."""
        thumb = thumbnail(y)
        return [
            self._mark(i, index, thumb)
            for i in range(len(self.tiles))
            if self._scanned_at[i] != index and self._changed(i, thumb)
        ]
