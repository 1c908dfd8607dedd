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
  frames (half-way between coarse passes), changed tiles first (something came in or moved,
  not a person swaying: ``tiles.changed``), then the stalest; every
  tile again on the last frame if it changed since its scan. Each box it finds masks the
  ``TILE_HOLD`` = 4 frames either side, and a track (``appliance.export.track``,
  template matching) follows the face back (to the first frame of the clip for a face
  present from the start) and forwards until it is lost. Only run when the coarse pass
  scales the frame down. Candidates it scores from ``face_confirm_floor`` up to the
  threshold are faces only if OpenCV's frontal-face cascades confirm them
  (``appliance.export.confirm``): the smallest and blurred faces score that low.

The coarse pass's weak candidates (scored from ``face_recheck_floor``, 0.08, up to the
threshold), the best ``face_recheck_most`` (2) of each pass, get a look at full resolution in a
window of about three face widths around them, as the tile pass would see them: a large face
partly covered (a counter, a hand, a mask) scores 0.1-0.25 at a third of the width and its
tile may not come up for a hundred frames (bench/masking --arrivals, seed 22). Candidates
inside a window looked at in vain are skipped for four coarse passes.

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

People (HOG) run every ``person_every_n`` frames. Detection runs on two worker threads (one
OpenCV ``Net`` each) while the caller decodes and encodes (OpenCV and libx264 release the
GIL): the coarse and tile passes of neighbouring frames overlap in time.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from appliance.export.centerface import CenterFace
from appliance.export.confirm import CascadeCheck
from appliance.export.detect import BoxMemory, FaceDetector, PersonDetector
from appliance.export.regions import Box, MaskKind, expand_box
from appliance.export.still import LastPass
from appliance.export.tiles import TilePlanner, thumbnail, tile_grid
from appliance.export.track import TemplateTracks

if TYPE_CHECKING:
    from appliance.export.masking import MaskingOptions, MaskSummary

__all__ = ["DetectFrame", "DetectionSchedule", "FaceFinder", "yuv_to_bgr"]

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


def yuv_to_bgr(y: Plane, u: Plane, v: Plane, width: int, height: int) -> Plane:
    """A BGR image of ``width`` x ``height`` from the planes of a yuv420p frame, scaled first
    (the conversion is paid at the detector's size, not at the frame's)."""
    small_y = cv2.resize(y, (width, height), interpolation=cv2.INTER_AREA)
    small_u = cv2.resize(u, (width, height), interpolation=cv2.INTER_AREA)
    small_v = cv2.resize(v, (width, height), interpolation=cv2.INTER_AREA)
    ycrcb = cv2.merge([small_y, small_v, small_u])
    return np.asarray(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR), np.uint8)


def coarse_width(width: int, most: int) -> int:
    """The coarse pass's input width for frames ``width`` wide: the frame itself up to
    ``most``, else a third of it (rounded up to the network's stride of 32) but at most
    ``most``. On the evaluation set at 720p, 448 (a third) and 640 leave the same faces
    unmasked (bench/RESULTS.md); the tile pass looks for the smaller ones."""
    if width <= most:
        return width
    return min(most, -(-width // 96) * 32)


def _net_size(width: int, height: int, want: int) -> tuple[int, int]:
    """The network's input size: ``want`` wide (never wider than the frame), both sides
    multiples of 32."""
    in_w = max(32, round(min(want, width) / 32) * 32)
    return in_w, max(32, round(in_w * height / width / 32) * 32)


@dataclass(frozen=True)
class DetectFrame:
    """The planes of one frame (views; unchanged until its detections are resolved)."""

    y: Plane
    u: Plane | None = None
    v: Plane | None = None

    def bgr(self, width: int, height: int) -> Plane:
        if self.u is None or self.v is None:
            grey = cv2.resize(self.y, (width, height), interpolation=cv2.INTER_AREA)
            return np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8)
        return yuv_to_bgr(self.y, self.u, self.v, width, height)

    def crop(self, box: Box) -> DetectFrame:
        """The planes of ``box`` (even-aligned for the chroma planes)."""
        x0, y0 = box.x & ~1, box.y & ~1
        x1, y1 = box.x + box.w, box.y + box.h
        y = self.y[y0:y1, x0:x1]
        if self.u is None or self.v is None:
            return DetectFrame(y)
        half = (slice(y0 // 2, (y1 + 1) // 2), slice(x0 // 2, (x1 + 1) // 2))
        return DetectFrame(y, self.u[half], self.v[half])


class FaceFinder:
    """The configured face model with its two passes (a still in the mask editor gets both in
    full; the masking pipeline calls them on its schedule)."""

    def __init__(self, opts: MaskingOptions) -> None:
        self._opts = opts
        self._haar: FaceDetector | None = None
        self._net: CenterFace | None = None
        self._check: CascadeCheck | None = None
        if opts.face_model == "haar":
            self._haar = FaceDetector(
                scale_factor=opts.face_scale_factor, min_neighbors=opts.face_min_neighbors
            )
        else:
            self._net = _shared_net(opts.face_threshold)
            if opts.face_confirm_floor:
                self._check = CascadeCheck()

    def tiles(self, width: int, height: int) -> list[Box]:
        """The tile pass's tiles, none when the coarse pass already sees the frame whole."""
        opts = self._opts
        if self._net is None or opts.face_tile_px == 0:
            return []
        want = coarse_width(width, opts.face_detect_width)
        if _net_size(width, height, want)[0] >= width - 16:
            return []
        return tile_grid(width, height, opts.face_tile_px, opts.face_tile_overlap)

    def coarse(self, frame: DetectFrame) -> list[Box]:
        return self.coarse_candidates(frame)[0]

    def coarse_candidates(self, frame: DetectFrame) -> tuple[list[Box], list[Box]]:
        """(faces, weak candidates best first): the candidates scored from
        ``face_recheck_floor`` up to the threshold, for a closer look."""
        if self._haar is not None:
            return self._haar.detect(frame.y), []
        opts = self._opts
        width = frame.y.shape[1]
        floor = opts.face_recheck_floor if opts.face_recheck_floor and self.rechecks else None
        found = self._run(frame, coarse_width(width, opts.face_detect_width), floor=floor)
        faces = [b for b, score in found if score >= opts.face_threshold]
        weak = sorted((b for b in found if b[1] < opts.face_threshold), key=lambda c: -c[1])
        return faces, [b for b, _ in weak]

    @property
    def rechecks(self) -> bool:
        """Whether weak coarse candidates get a closer look (the frame is scaled down for
        the coarse pass, and the tile pass runs)."""
        return self._net is not None and self._opts.face_recheck_most > 0

    def tile(self, frame: DetectFrame, tile: Box) -> list[Box]:
        """Faces in ``tile`` of the frame, at the frame's own resolution."""
        part = frame.crop(tile)
        x0, y0 = tile.x & ~1, tile.y & ~1
        opts, check = self._opts, self._check
        floor = opts.face_confirm_floor if check is not None else None
        found = self._run(part, 0, scale=opts.face_tile_scale, floor=floor)
        # Weak candidates count only if the cascades confirm them (appliance.export.confirm).
        faces = [
            b
            for b, score in found
            if score >= opts.face_threshold or (check is not None and check.confirms(part.y, b))
        ]
        return [Box(b.x + x0, b.y + y0, b.w, b.h) for b in faces]

    def _run(
        self, frame: DetectFrame, want: int, *, scale: float = 0.0, floor: float | None = None
    ) -> list[tuple[Box, float]]:
        assert self._net is not None
        height, width = frame.y.shape[:2]
        if scale:  # the tile enlarged by ``scale``, rounded up to the network's stride
            in_w, in_h = -(-round(width * scale) // 32) * 32, -(-round(height * scale) // 32) * 32
        else:
            in_w, in_h = _net_size(width, height, want)
        found = self._net.detect(frame.bgr(in_w, in_h), in_w, floor=floor)
        sx, sy = width / in_w, height / in_h
        return [
            (Box(round(b.x * sx), round(b.y * sy), round(b.w * sx), round(b.h * sy)), score)
            for b, score in found
        ]


_NETS: dict[float, CenterFace] = {}


def _shared_net(threshold: float) -> CenterFace:
    # Loading the network takes about 0.1 s; one per threshold per process is enough (each
    # thread gets its own ``Net`` inside it).
    net = _NETS.get(threshold)
    if net is None:
        net = _NETS[threshold] = CenterFace(threshold=threshold)
    return net


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
        self.people = BoxMemory(back=opts.person_every_n - 1, forward=opts.person_hold_frames)
        backs = [self.faces.back if opts.faces else 0, reach, self.tile_faces.back if tiles else 0]
        backs.append(self.people.back if opts.people else 0)
        # A frame is encoded once every detection whose window may reach back to it has run.
        self.lag = max(backs)
        # Frames beyond ``lag`` that may wait for a detection still running (a tile scan
        # takes the time of 4-8 frames): decoding and encoding go on meanwhile instead of
        # stalling on it, within a memory bound.
        frame_bytes = width * height * 3 // 2
        self.slack = max(1, min(MAX_SLACK, BUFFER_BYTES // frame_bytes - self.lag))
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mask-detect")
        self._queue: deque[tuple[int, str, Future[list[Box]]]] = deque()
        self._last: tuple[int, DetectFrame] | None = None
        self._still_coarse, self._still_people = LastPass(), LastPass()
        self._coarse_before: list[Box] = []  # the boxes of the last coarse pass
        self._size = (width, height)
        self._rejected = _Rejected()
        # Weak coarse candidates get a closer look where the tile pass runs (the coarse pass
        # sees the frame scaled down).
        self._recheck = self._finder is not None and bool(tiles) and self._finder.rechecks

    def _coarse(self, frame: DetectFrame) -> list[Box]:
        assert self._finder is not None
        if self._recheck:
            return self._coarse_rechecked(frame)
        return [expand_box(b, self._opts.face_margin) for b in self._finder.coarse(frame)]

    def _coarse_rechecked(self, frame: DetectFrame) -> list[Box]:
        """The coarse pass, and a look at full resolution around its best weak candidates
        (a window of three face widths, as the tile pass sees it): a face partly covered,
        dim or turned scores under the threshold at a third of the frame's width, and the
        scan of its tile may be a hundred frames away. Candidates already inside a face, and
        those inside a window looked at in vain during the last ``_RECHECK_FORGET`` coarse
        passes, are skipped, so a face-like pattern costs one look now and then, not one a
        pass."""
        assert self._finder is not None
        faces, weak = self._finder.coarse_candidates(frame)
        found = list(faces)
        margin = self._opts.face_margin
        looks = 0
        for candidate in weak:
            if looks >= self._opts.face_recheck_most:
                break
            if any(_inside(candidate, expand_box(face, margin)) for face in found):
                continue  # masked with that face already
            if self._rejected.recent(candidate):
                continue
            window = recheck_window(candidate, *self._size, most=self._opts.face_tile_px)
            looks += 1
            near = self._finder.tile(frame, window)
            if near:
                found += near
            else:
                self._rejected.note(window)
        self._rejected.tick()
        return [expand_box(b, margin) for b in found]

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
        # Whole-frame passes compare thumbnails (``appliance.export.still``); the tile
        # planner uses the same one when it scans on this frame.
        thumb = thumbnail(y) if coarse or people else None
        if self._planner.tiles:
            self.tracks.see(index, y)
            self._last = (index, frame)
            tile = self._planner.due(index, y, thumb)
            if tile is not None:
                queue.append((index, _Kind.tile, pool.submit(self._tile, frame, tile)))
        if thumb is not None:
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
        faces = self.faces.at(index) + self.tile_faces.at(index)
        faces += [b for b in self.tracks.at(index) if b not in faces]
        return {MaskKind.face: faces, MaskKind.person: self.people.at(index)}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


#: Coarse passes during which a place looked at in vain is not looked at again.
_RECHECK_FORGET = 4


class _Rejected:
    """Windows of weak coarse candidates where the closer look found no face, for the last
    ``_RECHECK_FORGET`` coarse passes (coarse passes of neighbouring frames may run at once
    on the two workers: a lock)."""

    def __init__(self) -> None:
        self._windows: list[tuple[int, Box]] = []
        self._pass = 0
        self._lock = threading.Lock()

    def recent(self, candidate: Box) -> bool:
        """Whether ``candidate`` lies in a window looked at in vain lately (a pattern drifting
        a little from pass to pass is not looked at again each time)."""
        with self._lock:
            return any(_inside(candidate, window) for _, window in self._windows)

    def note(self, window: Box) -> None:
        with self._lock:
            self._windows.append((self._pass, window))

    def tick(self) -> None:
        with self._lock:
            self._pass += 1
            self._windows = [(p, w) for p, w in self._windows if self._pass - p < _RECHECK_FORGET]


def recheck_window(box: Box, width: int, height: int, *, most: int) -> Box:
    """A square of about three times ``box``'s larger side around it, its side a multiple
    of 64 (few network input sizes: one ``Net`` each) and at most ``most``, moved inside the
    ``width`` x ``height`` frame rather than cut."""
    side = min(-(-3 * max(box.w, box.h) // 64) * 64, most, width, height)
    cx, cy = box.x + box.w // 2, box.y + box.h // 2
    x = min(max(cx - side // 2, 0), width - side)
    y = min(max(cy - side // 2, 0), height - side)
    return Box(x, y, side, side)


def _inside(box: Box, face: Box) -> bool:
    cx, cy = box.x + box.w // 2, box.y + box.h // 2
    return face.x <= cx < face.x + face.w and face.y <= cy < face.y + face.h


def _seen(box: Box, before: list[Box]) -> bool:
    """Whether ``box`` is a face the previous pass had too (overlapping one of its boxes)."""
    return any(box.iou(other) > 0.2 for other in before)
