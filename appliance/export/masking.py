"""Masking of third parties (R-REQ-5): decode with PyAV, detect, obscure, re-encode H.264.

Everything happens in memory (invariant 1): the source MP4 comes in as bytes, frames are numpy
arrays, the masked MP4 is written into a BytesIO. Frames are processed in their decoded
YUV 4:2:0 planes: the luma plane is the grey image the detectors need, and no colour
conversion is paid per frame.

Order on each frame: detected faces and people are obscured; the data subject's exemption
regions are then put back as recorded; the officer's regions are obscured last, so an
officer's explicit mask always wins over an exemption.

What it is asked to do (the plan and the options) is ``appliance.export.options``; when the
detectors run is ``appliance.export.schedule``. This module is the frame loop itself: decode,
hand the planes to the schedule, obscure, encode, and the summary of what it did.
"""

from __future__ import annotations

import hashlib
import io
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt
from av.video.frame import PictureType

from appliance.errors import MediaError
from appliance.export.detect import PersonDetector
from appliance.export.finder import DetectFrame, FaceFinder
from appliance.export.options import MaskingOptions, MaskMethod, MaskPlan, encoder_options
from appliance.export.regions import (
    Box,
    MaskKind,
    clip_box,
    expand_box,
    overlaps,
    regions_at,
)
from appliance.export.schedule import DetectionSchedule

__all__ = [
    "FrameObserver",
    "MaskSummary",
    "MaskedVideo",
    "detect_frame",
    "mask_video",
    "obscure",
]

Plane = npt.NDArray[np.uint8]
#: Told, for each output frame, its index and every box obscured on it (the evaluation in
#: bench/masking.py checks these against labelled faces).
FrameObserver = Callable[[int, list[tuple[MaskKind, Box]]], None]


@dataclass
class MaskSummary:
    """What masking did, for the manifest and the ledger ("masking applied")."""

    frames: int = 0
    frames_masked: int = 0
    width: int = 0
    height: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    boxes: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in MaskKind})
    detections: dict[str, int] = field(
        default_factory=lambda: {MaskKind.face.value: 0, MaskKind.person.value: 0}
    )
    boxes_touching_exemption: int = 0
    officer_regions: list[dict[str, object]] = field(default_factory=list)
    exemptions: list[dict[str, object]] = field(default_factory=list)
    options: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MaskedVideo:
    mp4: bytes
    summary: MaskSummary

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.mp4).hexdigest()


def obscure(plane: Plane, box: Box, method: MaskMethod, blocks_across: int) -> None:
    """Make ``box`` of one image plane unrecognisable, in place."""
    roi = plane[box.y : box.y + box.h, box.x : box.x + box.w]
    height, width = roi.shape[:2]
    if height == 0 or width == 0:
        return
    if method is MaskMethod.pixelate:
        _pixelate(roi, max(2, min(width, height) // blocks_across))
    else:
        kernel = max(3, (min(width, height) // 2) | 1)
        roi[:] = cv2.GaussianBlur(cv2.GaussianBlur(roi, (kernel, kernel), 0), (kernel, kernel), 0)


def _pixelate(roi: Plane, block: int) -> None:
    """Each ``block`` x ``block`` square of ``roi`` takes its mean, in place; the strips
    left over at the right and bottom edges (narrower than a block) take the colour of the
    block beside them, so nothing of theirs shows either. Whole blocks let OpenCV's area
    resize take its integer-ratio path: 3-4 times faster than blocks of uneven size on a
    person's box (bench/RESULTS.md, session 13)."""
    height, width = roi.shape[:2]
    across, down = max(1, width // block), max(1, height // block)
    inner_w, inner_h = across * min(block, width), down * min(block, height)
    inner = roi[:inner_h, :inner_w]
    small = cv2.resize(inner, (across, down), interpolation=cv2.INTER_AREA)
    inner[:] = cv2.resize(small, (inner_w, inner_h), interpolation=cv2.INTER_NEAREST)
    if inner_w < width:
        roi[:inner_h, inner_w:] = roi[:inner_h, inner_w - 1 : inner_w]
    if inner_h < height:
        roi[inner_h:] = roi[inner_h - 1 : inner_h]


class _Planes:
    """Views on the Y, U and V planes of a decoded yuv420p frame, masked in place and encoded
    as they are. The frame is made writable first: a picture the decoder still holds as a
    reference is then copied once (in C), so masking never alters what later frames are
    decoded from; an unshared one is used without a copy."""

    def __init__(self, frame: av.VideoFrame, width: int, height: int) -> None:
        frame.make_writable()
        self.frame = frame
        self.y = self._view(frame, 0, width, height)
        self.u = self._view(frame, 1, width // 2, height // 2)
        self.v = self._view(frame, 2, width // 2, height // 2)

    @staticmethod
    def _view(frame: av.VideoFrame, index: int, width: int, height: int) -> Plane:
        plane = frame.planes[index]
        rows = np.frombuffer(memoryview(plane), np.uint8)[: plane.line_size * height]
        return np.asarray(rows.reshape(height, plane.line_size)[:, :width], np.uint8)

    def boxes(self, box: Box) -> Iterator[tuple[Plane, Box]]:
        # Chroma is subsampled 2x2: align the box to even pixels so it covers whole samples.
        x0, y0 = box.x & ~1, box.y & ~1
        x1, y1 = box.x + box.w + (box.x + box.w) % 2, box.y + box.h + (box.y + box.h) % 2
        yield self.y, Box(x0, y0, x1 - x0, y1 - y0)
        half = Box(x0 // 2, y0 // 2, (x1 - x0) // 2, (y1 - y0) // 2)
        yield self.u, half
        yield self.v, half


def _frame_ms(frame: av.VideoFrame, index: int, first_pts: int | None, rate: Fraction) -> int:
    if frame.pts is None or frame.time_base is None or first_pts is None:
        return round(index * 1000 / rate)
    return round((frame.pts - first_pts) * frame.time_base * 1000)


def _clipped(boxes: Sequence[Box], width: int, height: int) -> list[Box]:
    return [c for c in (clip_box(b, width, height) for b in boxes) if c is not None]


@dataclass
class _Pending:
    index: int
    t_ms: int
    pts: int | None
    time_base: Fraction | None
    planes: _Planes


def detect_frame(image: Plane, options: MaskingOptions) -> list[tuple[MaskKind, Box]]:
    """What the masking pipeline would obscure on this one frame, margins included (the mask
    editor shows it on a sample frame): the coarse face pass, every tile of the tile pass and
    the people detector, with ``options``' settings. ``image`` is grey or BGR (CenterFace
    sees colour when it has it)."""
    found: list[tuple[MaskKind, Box]] = []
    height, width = image.shape[:2]
    grey = (
        image if image.ndim == 2 else np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
    )
    if options.faces:
        finder = FaceFinder(options)
        if image.ndim == 2:
            frame = DetectFrame(np.ascontiguousarray(grey, np.uint8))
        else:
            ycrcb = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb), np.uint8)
            half = (width // 2, height // 2)
            u = np.asarray(cv2.resize(ycrcb[:, :, 2], half, interpolation=cv2.INTER_AREA), np.uint8)
            v = np.asarray(cv2.resize(ycrcb[:, :, 1], half, interpolation=cv2.INTER_AREA), np.uint8)
            frame = DetectFrame(np.ascontiguousarray(ycrcb[:, :, 0]), u, v)
        # The tiles on two threads (one ``Net`` each): a 1080p still is 8 tiles.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="still-detect") as pool:
            tiled = pool.map(lambda tile: finder.tile(frame, tile), finder.tiles(width, height))
            faces = finder.coarse(frame)
            for boxes in tiled:
                faces += [f for f in boxes if not any(f.iou(c) > 0.3 for c in faces)]
        found += [(MaskKind.face, expand_box(b, options.face_margin)) for b in faces]
    if options.people:
        people = PersonDetector(detect_width=options.person_detect_width).detect(grey)
        found += [(MaskKind.person, expand_box(b, options.person_margin)) for b in people]
    return [
        (kind, clipped)
        for kind, box in found
        if (clipped := clip_box(box, width, height)) is not None
    ]


def mask_video(
    source: bytes,
    plan: MaskPlan,
    *,
    origin_ms: int = 0,
    start_ms: int | None = None,
    end_ms: int | None = None,
    observe: FrameObserver | None = None,
) -> MaskedVideo:
    """Mask the first video stream of the MP4 ``source`` into a new in-memory H.264 MP4.

    ``origin_ms`` is the wall-clock time (UTC ms) of the first decoded frame; time-bounded
    regions and the ``start_ms``/``end_ms`` trim are in that clock. Audio is never exported.
    ``observe`` is told every output frame's obscured boxes (for evaluation).
    """
    opts = plan.options
    summary = MaskSummary(
        officer_regions=[r.as_dict() for r in plan.officer_regions],
        exemptions=[r.as_dict() for r in plan.exemptions],
        options={k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(opts).items()},
    )
    out_buffer = io.BytesIO()
    detections: DetectionSchedule | None = None
    try:
        with av.open(io.BytesIO(source), "r") as container:
            if not container.streams.video:
                raise MediaError("the source has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate or Fraction(25)
            width, height = stream.codec_context.width, stream.codec_context.height
            if width % 2 or height % 2:
                raise MediaError(f"odd frame size {width}x{height} is not supported")
            summary.width, summary.height = width, height
            detections = DetectionSchedule(opts, summary, width, height)
            with av.open(out_buffer, "w", format="mp4") as output:
                encoder = output.add_stream("libx264", rate=rate)
                encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
                if stream.time_base is not None:
                    encoder.time_base = stream.time_base
                    encoder.codec_context.time_base = stream.time_base
                encoder.options = encoder_options(opts)
                first_pts: int | None = None
                kept_first_pts: int | None = None

                def emit(item: _Pending) -> None:
                    nonlocal kept_first_pts
                    assert detections is not None
                    found = detections.at(item.index)
                    masked = _mask_frame(
                        item.planes,
                        {kind: _clipped(boxes, width, height) for kind, boxes in found.items()},
                        _clipped(
                            regions_at(plan.officer_regions, item.t_ms, width, height),
                            width,
                            height,
                        ),
                        _clipped(
                            regions_at(plan.exemptions, item.t_ms, width, height), width, height
                        ),
                        opts,
                        summary,
                        item.index,
                        observe,
                    )
                    summary.frames_masked += int(masked)
                    out = item.planes.frame
                    out.pict_type = PictureType.NONE  # the encoder picks its own key frames
                    if item.pts is not None:
                        if kept_first_pts is None:
                            kept_first_pts = item.pts
                        out.pts = item.pts - kept_first_pts
                        out.time_base = item.time_base
                    else:
                        out.pts = None
                    for packet in encoder.encode(out):
                        output.mux(packet)

                pending: deque[_Pending] = deque()
                decoded = 0
                for frame in container.decode(stream):
                    if first_pts is None:
                        first_pts = frame.pts
                    t_ms = origin_ms + _frame_ms(frame, decoded, first_pts, rate)
                    decoded += 1
                    if (start_ms is not None and t_ms < start_ms) or (
                        end_ms is not None and t_ms >= end_ms
                    ):
                        continue
                    if frame.format.name != "yuv420p":
                        frame = frame.reformat(format="yuv420p")
                    planes = _Planes(frame, width, height)
                    n = summary.frames
                    detections.submit(n, planes.y, planes.u, planes.v)
                    summary.frames += 1
                    if summary.first_ms is None:
                        summary.first_ms = t_ms
                    summary.last_ms = t_ms
                    pending.append(_Pending(n, t_ms, frame.pts, frame.time_base, planes))
                    # A frame is encoded once the detections that can reach it are in; while a
                    # long one runs, frames wait (up to ``slack`` more) rather than this thread.
                    while pending and pending[0].index < n - detections.lag - 1:
                        full = len(pending) > detections.lag + detections.slack
                        if not detections.resolve_through(
                            pending[0].index + detections.lag, wait=full
                        ):
                            break
                        emit(pending.popleft())
                detections.finish()
                while pending:
                    detections.resolve_through(pending[0].index + detections.lag)
                    emit(pending.popleft())
                for packet in encoder.encode(None):
                    output.mux(packet)
    except av.error.FFmpegError as exc:
        raise MediaError(f"masking failed: {exc}") from exc
    finally:
        if detections is not None:
            detections.close()
    if summary.frames == 0:
        raise MediaError("no frame of the source lies in the requested range")
    return MaskedVideo(out_buffer.getvalue(), summary)


def _mask_frame(
    planes: _Planes,
    detected: dict[MaskKind, list[Box]],
    officer: list[Box],
    exempt: list[Box],
    opts: MaskingOptions,
    summary: MaskSummary,
    index: int = 0,
    observe: FrameObserver | None = None,
) -> bool:
    """Obscure one frame in place; count the boxes; return whether anything was masked."""
    saved = [
        (plane, b, plane[b.y : b.y + b.h, b.x : b.x + b.w].copy())
        for e in exempt
        for plane, b in planes.boxes(e)
    ]
    any_box = False
    for kind, boxes in detected.items():
        for box in boxes:
            summary.boxes[kind.value] += 1
            if exempt and overlaps(box, exempt):
                summary.boxes_touching_exemption += 1
            for plane, b in planes.boxes(box):
                obscure(plane, b, opts.method, opts.blocks_across)
            any_box = True
    for plane, b, pixels in saved:
        plane[b.y : b.y + b.h, b.x : b.x + b.w] = pixels
    for box in officer:
        summary.boxes[MaskKind.officer.value] += 1
        for plane, b in planes.boxes(box):
            obscure(plane, b, opts.method, opts.blocks_across)
        any_box = True
    if observe is not None:
        shown = [(kind, b) for kind, boxes in detected.items() for b in boxes]
        observe(index, shown + [(MaskKind.officer, b) for b in officer])
    return any_box
