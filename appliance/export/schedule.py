"""When the detectors run during masking, at what size, and how their boxes reach every frame.

Faces (CenterFace, ``appliance.export.centerface``) are looked for in two passes on a frame
scaled down from the decoded YUV planes:

- the *coarse* pass, ``face_detect_width`` wide (640), every ``face_every_n`` frames: faces
  from about 30 px at 1080p, the ones that move fast and matter most;
- the *fine* pass, ``face_fine_width`` wide (1280), every ``face_fine_every_n`` frames: the
  small, distant faces the coarse pass cannot resolve (only boxes under
  ``face_fine_max_px`` are kept from it, the coarse pass covers the rest).

Each pass feeds a ``BoxMemory`` with two-way windows (a box masks the frames back to the
previous pass and holds ``face_hold_frames`` after it) and straight-line interpolation between
passes, so a miss on one pass or a face moving between passes never shows. Export is not
live: frames wait in a buffer until every pass that can reach back to them has run. The Haar
cascade (``face_model = haar``) is kept for comparison (bench/masking.py), not as a fallback:
on the evaluation set it adds no recall to CenterFace (design/export.md).

People (HOG) run every ``person_every_n`` frames as before. All detection runs on one worker
thread while the caller decodes and encodes (OpenCV and libx264 release the GIL).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from appliance.export.centerface import CenterFace
from appliance.export.detect import BoxMemory, FaceDetector, PersonDetector
from appliance.export.regions import Box, MaskKind, expand_box

if TYPE_CHECKING:
    from appliance.export.masking import MaskingOptions, MaskSummary

__all__ = ["DetectFrame", "DetectionSchedule", "FaceFinder", "yuv_to_bgr"]

Plane = npt.NDArray[np.uint8]


def yuv_to_bgr(y: Plane, u: Plane, v: Plane, width: int, height: int) -> Plane:
    """A BGR image of ``width`` x ``height`` from the planes of a yuv420p frame, scaled first
    (the conversion is paid at the detector's size, not at the frame's)."""
    small_y = cv2.resize(y, (width, height), interpolation=cv2.INTER_AREA)
    small_u = cv2.resize(u, (width, height), interpolation=cv2.INTER_AREA)
    small_v = cv2.resize(v, (width, height), interpolation=cv2.INTER_AREA)
    ycrcb = cv2.merge([small_y, small_v, small_u])
    return np.asarray(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR), np.uint8)


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


class FaceFinder:
    """The configured face model with its two passes (one still in the mask editor uses both;
    the masking pipeline calls them on its schedule)."""

    def __init__(self, opts: MaskingOptions) -> None:
        self._opts = opts
        self._haar: FaceDetector | None = None
        self._net: CenterFace | None = None
        if opts.face_model == "haar":
            self._haar = FaceDetector(
                scale_factor=opts.face_scale_factor, min_neighbors=opts.face_min_neighbors
            )
        else:
            self._net = _shared_net(opts.face_threshold)

    def has_fine_pass(self, width: int, height: int) -> bool:
        opts = self._opts
        if self._net is None or opts.face_fine_every_n == 0:
            return False
        return (
            _net_size(width, height, opts.face_fine_width)[0]
            > _net_size(width, height, opts.face_detect_width)[0]
        )

    def coarse(self, frame: DetectFrame) -> list[Box]:
        if self._haar is not None:
            return self._haar.detect(frame.y)
        return self._run(frame, self._opts.face_detect_width)

    def fine(self, frame: DetectFrame) -> list[Box]:
        limit = self._opts.face_fine_max_px
        return [b for b in self._run(frame, self._opts.face_fine_width) if b.w < limit]

    def _run(self, frame: DetectFrame, want: int) -> list[Box]:
        assert self._net is not None
        height, width = frame.y.shape[:2]
        in_w, in_h = _net_size(width, height, want)
        found = self._net.detect(frame.bgr(in_w, in_h), in_w)
        sx, sy = width / in_w, height / in_h
        return [
            Box(round(b.x * sx), round(b.y * sy), round(b.w * sx), round(b.h * sy))
            for b, _score in found
        ]


_NETS: dict[float, CenterFace] = {}


def _shared_net(threshold: float) -> CenterFace:
    # Loading the network takes about 0.1 s; one per threshold per process is enough (its
    # ``detect`` is serialised by a lock).
    net = _NETS.get(threshold)
    if net is None:
        net = _NETS[threshold] = CenterFace(threshold=threshold)
    return net


@dataclass
class _Result:
    coarse: list[Box] | None
    fine: list[Box] | None
    people: list[Box] | None


class DetectionSchedule:
    """Runs the passes due on each frame on a worker thread and feeds their boxes, in frame
    order, to the box memories; ``at(index)`` is what masks frame ``index``."""

    def __init__(self, opts: MaskingOptions, summary: MaskSummary, width: int, height: int):
        self._opts = opts
        self._summary = summary
        self._finder = FaceFinder(opts) if opts.faces else None
        self._people = PersonDetector(detect_width=opts.person_detect_width)
        fine = self._finder is not None and self._finder.has_fine_pass(width, height)
        self._fine_every = opts.face_fine_every_n if fine else 0
        self.faces = BoxMemory(
            back=opts.face_every_n - 1, forward=opts.face_hold_frames, interpolate=True
        )
        self.small_faces = BoxMemory(
            back=max(self._fine_every - 1, 0),
            forward=max(self._fine_every, opts.face_hold_frames),
            interpolate=True,
        )
        self.people = BoxMemory(back=opts.person_every_n - 1, forward=opts.person_hold_frames)
        backs = [self.faces.back if opts.faces else 0, self.small_faces.back]
        backs.append(self.people.back if opts.people else 0)
        # A frame is encoded once every detection whose window may reach back to it has run.
        self.lag = max(backs)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mask-detect")
        self._queue: deque[tuple[int, Future[_Result]]] = deque()

    def _detect(self, frame: DetectFrame, coarse: bool, fine: bool, people: bool) -> _Result:
        opts = self._opts
        finder = self._finder
        grow = opts.face_margin
        return _Result(
            coarse=[expand_box(b, grow) for b in finder.coarse(frame)]
            if finder and coarse
            else None,
            fine=[expand_box(b, grow) for b in finder.fine(frame)] if finder and fine else None,
            people=[expand_box(b, opts.person_margin) for b in self._people.detect(frame.y)]
            if people
            else None,
        )

    def submit(self, index: int, y: Plane, u: Plane | None = None, v: Plane | None = None) -> None:
        """Detect on frame ``index``; its planes must not change until it is resolved."""
        opts = self._opts
        coarse = opts.faces and index % opts.face_every_n == 0
        fine = bool(self._fine_every) and index % self._fine_every == 0
        people = opts.people and index % opts.person_every_n == 0
        if coarse or fine or people:
            job = self._pool.submit(self._detect, DetectFrame(y, u, v), coarse, fine, people)
            self._queue.append((index, job))

    def resolve_through(self, index: int) -> None:
        """Wait for every detection up to frame ``index`` and remember its boxes."""
        detections = self._summary.detections
        while self._queue and self._queue[0][0] <= index:
            frame, future = self._queue.popleft()
            result = future.result()
            if result.coarse is not None:
                self.faces.add(frame, result.coarse)
                detections[MaskKind.face.value] += len(result.coarse)
            if result.fine is not None:
                self.small_faces.add(frame, result.fine)
                detections[MaskKind.face.value] += len(result.fine)
            if result.people is not None:
                self.people.add(frame, result.people)
                detections[MaskKind.person.value] += len(result.people)

    def at(self, index: int) -> dict[MaskKind, list[Box]]:
        """The detected boxes that mask frame ``index`` (call in frame order)."""
        return {
            MaskKind.face: self.faces.at(index) + self.small_faces.at(index),
            MaskKind.person: self.people.at(index),
        }

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
