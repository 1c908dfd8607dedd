"""Faces followed between detections by template matching, backwards and forwards.

The tile pass (``appliance.export.tiles``) finds a small face on one frame now and then (a
tile comes up every 64 frames at 1080p unless it changed). Each box it finds starts a
*track*: the grey pixels inside the box are the template, looked for again on the
neighbouring frames within a search radius (normalised cross-correlation,
``cv2.matchTemplate``; well under a millisecond for a small face). The track follows the face
back over the frames still waiting to be encoded (to the first frame of the clip for a face
present from the start) and forwards frame by frame, and ends where the match falls below
``threshold`` (the person left, turned away or was covered): then the next scan of the
tile, or the coarse pass, has to find the face again. A person swaying in a chair or
walking across moves the box with them.

Matching uses the template of the detection itself, not of the last match, so a track does
not drift onto the background. Large boxes are matched at a reduced scale (at most
``_MATCH_PX`` across).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from appliance.export.regions import Box, clip_box

__all__ = ["ScaledTracks", "TemplateTracks", "match"]

Plane = npt.NDArray[np.uint8]

_MATCH_PX = 40
#: Two tracks whose boxes overlap this much follow the same face: the older one ends.
_SAME_FACE_IOU = 0.6


def match(plane: Plane, template: Plane, near: Box, radius: int, threshold: float) -> Box | None:
    """Where ``template`` best matches ``plane`` within ``radius`` pixels of ``near`` (same
    size box), or None if the best match scores under ``threshold``."""
    height, width = plane.shape[:2]
    th, tw = template.shape[:2]
    x0, y0 = max(near.x - radius, 0), max(near.y - radius, 0)
    x1, y1 = min(near.x + tw + radius, width), min(near.y + th + radius, height)
    window = plane[y0:y1, x0:x1]
    if window.shape[0] < th or window.shape[1] < tw:
        return None
    factor = min(1.0, _MATCH_PX / max(tw, th))
    if factor < 1.0:
        small = (max(1, round(tw * factor)), max(1, round(th * factor)))
        template = np.asarray(cv2.resize(template, small, interpolation=cv2.INTER_AREA), np.uint8)
        size = (
            max(small[0], round(window.shape[1] * factor)),
            max(small[1], round(window.shape[0] * factor)),
        )
        window = np.asarray(cv2.resize(window, size, interpolation=cv2.INTER_AREA), np.uint8)
    scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(scores)
    if not math.isfinite(best) or best < threshold:
        return None
    return Box(x0 + round(bx / factor), y0 + round(by / factor), near.w, near.h)


@dataclass
class _Track:
    template: Plane
    offset: tuple[int, int]  # of the template inside the box
    found: int
    positions: dict[int, Box] = field(default_factory=dict)
    last: int = 0
    open: bool = True


class TemplateTracks:
    """Tracks started by detections, followed back at most ``reach`` frames and forwards
    until lost. Grey planes come in frame order through ``see`` and are dropped once their
    frame is served by ``at`` (it is masked in place after that)."""

    def __init__(self, reach: int, *, core: float = 1.0, threshold: float = 0.6) -> None:
        self.reach = reach
        # The template is the middle ``core`` of each box: boxes come grown by a margin, and
        # the background in the margin stays behind when the face moves.
        self.core = core
        self.threshold = threshold
        self._planes: dict[int, Plane] = {}
        self._tracks: list[_Track] = []

    def see(self, index: int, y: Plane) -> None:
        self._planes[index] = y

    def add(self, index: int, boxes: list[Box]) -> None:
        y = self._planes.get(index)
        if y is None:
            return
        height, width = y.shape[:2]
        for found in boxes:
            box = clip_box(found, width, height)
            if box is None or min(box.w, box.h) < 4:
                continue
            cw, ch = max(4, round(box.w * self.core)), max(4, round(box.h * self.core))
            ox, oy = (box.w - cw) // 2, (box.h - ch) // 2
            template = np.ascontiguousarray(
                y[box.y + oy : box.y + oy + ch, box.x + ox : box.x + ox + cw]
            )
            track = _Track(template, (ox, oy), index, {index: box}, index)
            position: Box | None = box
            for j in range(index - 1, index - self.reach - 1, -1):
                plane = self._planes.get(j)
                if plane is None or position is None:
                    break
                position = self._follow(plane, track, position)
                if position is not None:
                    track.positions[j] = position
            self._tracks.append(track)

    def _follow(self, plane: Plane, track: _Track, near: Box) -> Box | None:
        ox, oy = track.offset
        th, tw = track.template.shape[:2]
        core = Box(near.x + ox, near.y + oy, tw, th)
        found = match(plane, track.template, core, _radius(core), self.threshold)
        return None if found is None else Box(found.x - ox, found.y - oy, near.w, near.h)

    def at(self, index: int) -> list[Box]:
        """Boxes that mask ``index`` (call in frame order)."""
        plane = self._planes.get(index)
        shown: list[tuple[_Track, Box]] = []
        for track in self._tracks:
            box = track.positions.get(index)
            if box is None and track.open and index > track.last and plane is not None:
                box = self._follow(plane, track, track.positions[track.last])
                if box is None:
                    track.open = False
                else:
                    track.positions[index], track.last = box, index
            if box is not None:
                shown.append((track, box))
        # The same face followed by an older and a newer track: the newer template wins.
        for older, a in shown:
            if any(newer.found > older.found and a.iou(b) >= _SAME_FACE_IOU for newer, b in shown):
                older.open = False
        for track in self._tracks:
            track.positions = {k: b for k, b in track.positions.items() if k >= index}
        self._tracks = [t for t in self._tracks if t.open or max(t.positions, default=-1) > index]
        # This frame is masked in place next: its pixels must not be matched again.
        for old in [k for k in self._planes if k <= index]:
            del self._planes[old]
        return [box for _track, box in shown]


class ScaledTracks:
    """``TemplateTracks`` on planes scaled down ``factor`` times (boxes in full-frame pixels):
    a person's box is hundreds of pixels, and matching shrinks the search window to about
    40 px across anyway, so the quarter-size thumbnails (``appliance.export.tiles
    .thumbnail``, made once a frame) spare shrinking a few hundred thousand pixels per track
    per frame (0.13 ms a frame for two people at 720p, bench/masking_people)."""

    def __init__(self, reach: int, factor: int, *, core: float = 1.0) -> None:
        self._tracks = TemplateTracks(reach, core=core)
        self.factor = factor

    @property
    def reach(self) -> int:
        return self._tracks.reach

    def see(self, index: int, small: Plane) -> None:
        """The frame ``index`` scaled down ``factor`` times."""
        self._tracks.see(index, small)

    def add(self, index: int, boxes: list[Box]) -> None:
        self._tracks.add(index, [b.scaled(1 / self.factor) for b in boxes])

    def at(self, index: int) -> list[Box]:
        return [b.scaled(self.factor) for b in self._tracks.at(index)]


def _radius(box: Box) -> int:
    # Walking across the frame: up to about a third of the face's width per frame.
    return max(12, min(box.w, box.h) // 3)
