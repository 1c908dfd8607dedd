"""When the detectors run during masking, at what size, and how their boxes reach every frame.

Faces (CenterFace, ``appliance.export.centerface``) are looked for in two passes:

- the *coarse* pass, the whole frame scaled to a third of its width, at most
  ``face_detect_width`` (640: 1080p to 640, 720p to 448), every ``face_every_n`` frames:
  faces from about 30 px at any resolution, the ones that move fast and matter most (a frame
  up to ``face_detect_width`` wide is seen whole, at its own size). Its boxes feed a
  ``BoxMemory`` with two-way windows (a box masks the frames back to the previous pass and
  holds ``face_hold_frames`` after it) and straight-line
  interpolation between passes, so a miss on one pass or a face moving between passes never
  shows;
- the *tile* pass (``appliance.export.tiles``): tiles of about ``face_tile_px`` of the frame
  at its own resolution, enlarged ``face_tile_scale`` times (small faces). Every tile once at
  the start of the clip (one every other frame), then one tile every ``face_tile_every_n``
  frames (frames 8, 24, 40...: mostly apart from coarse passes), changed tiles first
  (something came in or moved, not a person swaying: ``tiles.changed``), then the stalest;
  every tile again on the last frame if it changed since its scan. Each box it finds masks the
  ``TILE_HOLD`` = 4 frames either side, and a track (``appliance.export.track``,
  template matching) follows the face back (to the first frame of the clip for a face
  present from the start) and forwards until it is lost. Only run when the coarse pass
  scales the frame down. Candidates it scores from ``face_confirm_floor`` up to the
  threshold are faces only if OpenCV's frontal-face cascades confirm them
  (``appliance.export.confirm``): the smallest and blurred faces score that low.

The coarse pass's best weak candidates (scored from ``face_recheck_floor`` up to the
threshold) get a look at full resolution around them (``appliance.export.recheck``): a large
face partly covered scores low at a third of the width, and its tile may not come up for a
hundred frames.

A coarse-pass box that the previous coarse pass did not have (a face that came in since) starts
a track as well, followed back over the frames before the pass (a walking face is not where
the pass found it) and forwards.

Export is not live: frames wait in a buffer (``lag`` frames: 48 at 1080p, about 150 MB) until
every pass that can reach back to them has run, and up to ``slack`` frames more (32 at 720p
and 1080p; at most 256 MB in all) while a pass is still running: a tile scan takes the time
of 4-8 frames, and waiting for it with a one-frame buffer left a core idle (masking 12-20 %
slower, bench/RESULTS.md). The Haar cascade (``face_model = haar``) is
kept for comparison (bench/masking.py), not as a fallback: on the evaluation set it adds no
recall to CenterFace (design/export.md).

People (HOG) run every ``person_every_n`` frames; a box masks the frames back to the pass
before and ``person_hold_frames`` after, is moved in a straight line to the matching box of
the next pass, and starts a track on the quarter-size thumbnails (``track.ScaledTracks``)
followed back to the pass before and forwards until lost: a walking body is followed, not
left behind a still box. Detection runs on two worker threads (one
OpenCV ``Net`` each; OpenCV's own thread pool is set to one thread) while the caller decodes
and encodes (OpenCV and libx264 release the GIL): the coarse and tile passes of neighbouring
frames overlap in time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from appliance.export.detect import BoxMemory, PersonDetector
from appliance.export.finder import DetectFrame, FaceFinder
from appliance.export.recheck import Rechecks
from appliance.export.regions import Box, MaskKind, expand_box, outermost
from appliance.export.still import LastPass
from appliance.export.tiles import THUMB_SCALE, TilePlanner, thumbnail
from appliance.export.track import ScaledTracks, TemplateTracks

if TYPE_CHECKING:
    from appliance.export.masking import MaskSummary
    from appliance.export.options import MaskingOptions

__all__ = ["DetectionSchedule"]

Plane = npt.NDArray[np.uint8]

#: The tile pass follows a face this many frames back at most (frames wait in memory that
#: long: 48 frames of 1080p are 150 MB).
MAX_REACH = 48
#: Frames either side of its scan that a tile box masks without a track.
TILE_HOLD = 4
#: Frames that may wait beyond the schedule's ``lag`` while a detection runs (at most), and
#: the memory all waiting frames may take (decoded yuv420p): 80 frames at 1080p (a lag of 48
#: and a slack of 32), 256 MB.
MAX_SLACK = 32
BUFFER_BYTES = 256 * 1024 * 1024


class _Kind:
    coarse = "coarse"
    tile = "tile"
    people = "people"


class DetectionSchedule:
    """Runs the passes due on each frame on two worker threads and feeds their boxes, in frame
    order, to the box memories; ``at(index)`` is what masks frame ``index``."""

    def __init__(self, opts: MaskingOptions, summary: MaskSummary, width: int, height: int):
        self._opts = opts
        self._summary = summary
        self._finder = FaceFinder(opts) if opts.faces else None
        self._people = PersonDetector(detect_width=opts.person_detect_width)
        tiles = self._finder.tiles(width, height) if self._finder is not None else []
        self._planner = TilePlanner(tiles, opts.face_tile_every_n)
        self.faces = BoxMemory(
            back=opts.face_every_n - 1, forward=opts.face_hold_frames, interpolate=True
        )
        every = opts.face_tile_every_n
        # Tile boxes mask a few frames around their scan whatever happens (a track lost at
        # once), and are followed by template matching beyond that (back at most ``reach``).
        self.tile_faces = BoxMemory(back=TILE_HOLD, forward=TILE_HOLD)
        # Back over the first cover of the frame, and over three tile slots later on (a face
        # that came in is found when its changed tile comes up; with two or three tiles
        # changed at once it waits that long: bench/masking --arrivals).
        reach = min(max(self._planner.first_cover, 3 * every), MAX_REACH) if tiles else 0
        self.tracks = TemplateTracks(reach, core=1 / (1 + 2 * opts.face_margin))
        self.people = BoxMemory(
            back=opts.person_every_n - 1, forward=opts.person_hold_frames, interpolate=True
        )
        # People found on a pass are followed by template matching over the frames back to
        # the pass before and forwards until lost: a walking body leaves a held box behind.
        self.people_tracks = ScaledTracks(
            opts.person_every_n if opts.people else 0,
            THUMB_SCALE,
            core=1 / (1 + 2 * opts.person_margin),
        )
        backs = [self.faces.back if opts.faces else 0, reach, self.tile_faces.back if tiles else 0]
        backs.append(self.people_tracks.reach)
        # A frame is encoded once every detection whose window may reach back to it has run.
        self.lag = max(backs)
        # Frames beyond ``lag`` that may wait for a detection still running (a tile scan
        # takes the time of 4-8 frames): decoding and encoding go on meanwhile instead of
        # stalling on it, within a memory bound.
        frame_bytes = width * height * 3 // 2
        self.slack = max(1, min(MAX_SLACK, BUFFER_BYTES // frame_bytes - self.lag))
        # The two workers are the parallelism: OpenCV splitting each of their calls over the
        # same two cores again cost 2-3 % more CPU a frame at 720p (bench/RESULTS.md, session
        # 13). The setting is the process's: the mask editor's still detection runs its tiles
        # on two threads of its own as well, and nothing else leans on OpenCV's threads.
        cv2.setNumThreads(1)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mask-detect")
        self._queue: deque[tuple[int, str, Future[list[Box]]]] = deque()
        self._last: tuple[int, DetectFrame] | None = None
        self._still_coarse, self._still_people = LastPass(), LastPass()
        self._coarse_before: list[Box] = []  # the boxes of the last coarse pass
        # Weak coarse candidates get a closer look where the tile pass runs (the coarse pass
        # sees the frame scaled down).
        self._rechecks = (
            Rechecks(opts, self._finder, width, height)
            if self._finder is not None and tiles and self._finder.rechecks
            else None
        )

    def _coarse(self, frame: DetectFrame) -> list[Box]:
        assert self._finder is not None
        rechecks = self._rechecks
        found = self._finder.coarse(frame) if rechecks is None else rechecks.coarse(frame)
        return [expand_box(b, self._opts.face_margin) for b in found]

    def _tile(self, frame: DetectFrame, tile: Box) -> list[Box]:
        assert self._finder is not None
        return [expand_box(b, self._opts.face_margin) for b in self._finder.tile(frame, tile)]

    def _persons(self, frame: DetectFrame) -> list[Box]:
        margin = self._opts.person_margin
        return [expand_box(b, margin) for b in self._people.detect(frame.y)]

    def submit(self, index: int, y: Plane, u: Plane | None = None, v: Plane | None = None) -> None:
        """Detect on frame ``index``; its planes must not change until it is resolved."""
        opts = self._opts
        frame = DetectFrame(y, u, v)
        pool, queue = self._pool, self._queue
        coarse = opts.faces and index % opts.face_every_n == 0
        people = opts.people and index % opts.person_every_n == 0
        # Whole-frame passes compare thumbnails (``appliance.export.still``), people are
        # followed on them on every frame, and the tile planner uses the same one when it
        # scans on this frame.
        thumb = thumbnail(y) if coarse or opts.people else None
        if thumb is not None and opts.people:
            self.people_tracks.see(index, thumb)
        if self._planner.tiles:
            self.tracks.see(index, y)
            self._last = (index, frame)
            tile = self._planner.due(index, y, thumb)
            if tile is not None:
                queue.append((index, _Kind.tile, pool.submit(self._tile, frame, tile)))
        if coarse or people:
            assert thumb is not None
            # A still picture gets the last real answer again.
            if coarse:
                answer = self._run_or_reuse(self._still_coarse, thumb, self._coarse, frame)
                queue.append((index, _Kind.coarse, answer))
            if people:
                answer = self._run_or_reuse(self._still_people, thumb, self._persons, frame)
                queue.append((index, _Kind.people, answer))

    def _run_or_reuse(
        self,
        last: LastPass,
        thumb: Plane,
        run: Callable[[DetectFrame], list[Box]],
        frame: DetectFrame,
    ) -> Future[list[Box]]:
        """``run`` on the pool, or its last real answer if the picture has not changed."""
        answer = last.reuse(thumb)
        if answer is None:
            answer = self._pool.submit(run, frame)
            last.record(thumb, answer)
        return answer

    def finish(self) -> None:
        """The clip has no more frames: scan the tiles not seen since they last changed on the
        last frame (a short clip is still covered whole at full resolution)."""
        if self._last is None:
            return
        index, frame = self._last
        for tile in self._planner.remaining(index, frame.y):
            self._queue.append((index, _Kind.tile, self._pool.submit(self._tile, frame, tile)))

    def resolve_through(self, index: int, *, wait: bool = True) -> bool:
        """Remember the boxes of every detection up to frame ``index``, waiting for them
        (``wait``) or only as far as they have finished; whether all of them are in."""
        detections = self._summary.detections
        while self._queue and self._queue[0][0] <= index:
            if not wait and not self._queue[0][2].done():
                return False
            frame, kind, future = self._queue.popleft()
            boxes = future.result()
            if kind == _Kind.people:
                self.people.add(frame, boxes)
                self.people_tracks.add(frame, boxes)
                detections[MaskKind.person.value] += len(boxes)
                continue
            detections[MaskKind.face.value] += len(boxes)
            if kind == _Kind.coarse:
                self.faces.add(frame, boxes)
                # A face this pass has and the one before did not came in since (or was
                # missed then): it is followed back over the frames it may have shown on
                # before this pass found it, as a tile's find is.
                self.tracks.add(frame, [b for b in boxes if not _seen(b, self._coarse_before)])
                self._coarse_before = boxes
            else:
                self.tile_faces.add(frame, boxes)
                self.tracks.add(frame, boxes)
        return True

    def at(self, index: int) -> dict[MaskKind, list[Box]]:
        """The detected boxes that mask frame ``index`` (call in frame order)."""
        faces = self.faces.at(index) + self.tile_faces.at(index) + self.tracks.at(index)
        people = self.people.at(index) + self.people_tracks.at(index)
        return {MaskKind.face: outermost(faces), MaskKind.person: outermost(people)}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _seen(box: Box, before: list[Box]) -> bool:
    """Whether ``box`` is a face the previous pass had too (overlapping one of its boxes)."""
    return any(box.iou(other) > 0.2 for other in before)
