"""The officer's mask editor for a request (R-REQ-5): sample frames of the approved scope with
the automatic detections, and a few seconds of the masked result, before the package is built.

Seeing a frame is a viewing of footage like any other (R-VIEW-1, invariant 5): the editor
first opens a playback viewing session for the request (``ViewingService.open``, purpose
"request", its ledger entry committed before anything is served); every still and preview is
then a span of that session, checked against its cameras, range and owner, and counted in its
closing entry. Stills are small JPEGs and previews MP4s made in memory; nothing is written to
disk (invariant 1).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import av
import cv2
import numpy as np
from sqlmodel import col, select

from appliance.access import Permission, Principal
from appliance.errors import Conflict, MediaError, NotFound, ValidationFailed
from appliance.export.masking import detect_frame, mask_video
from appliance.export.options import MaskPlan
from appliance.export.regions import MaskKind, NormRect, box_to_norm, sample_spans
from appliance.export.service import first_frame_ms
from appliance.models import FootageRequest, Segment
from appliance.models.access import ViewingSession
from appliance.requests.kinds import Decision, RequestKind, RequestState
from appliance.requests.service import need
from appliance.requests.workflow import approved_scope
from appliance.viewing import PurposeCategory, ViewKind
from appliance.viewing.purpose import Purpose

if TYPE_CHECKING:
    from appliance.context import AppContext
    from appliance.viewing import ViewingService

__all__ = [
    "MAX_PREVIEW_S",
    "MAX_STILLS",
    "Detection",
    "MaskDesk",
    "MaskScope",
    "Still",
    "mask_refusal",
]

MAX_STILLS = 12
MAX_PREVIEW_S = 5
STILL_WIDTH = 480  # px: enough to draw on, small enough to send as JPEG
_FRAME_WINDOW_MS = 2000  # footage read to find one still (key frames come every 1-2 s)
_PURPOSE_TEXT = "마스킹 사본 준비"


@dataclass(frozen=True)
class MaskScope:
    """The approved scope of a request and the viewing session the editor sees it through."""

    request_id: int
    camera_ids: list[str]
    start_ms: int
    end_ms: int
    viewing_id: int


@dataclass(frozen=True)
class Detection:
    kind: MaskKind
    rect: NormRect


@dataclass(frozen=True)
class Still:
    """One sample frame: the span a rectangle drawn on it holds for, a small JPEG, and what the
    detectors find on it."""

    camera_id: str
    t_ms: int  # wall time of the frame shown
    span_start_ms: int
    span_end_ms: int
    width: int  # of the source frame
    height: int
    jpeg: bytes
    detections: list[Detection]


def mask_refusal(request: FootageRequest) -> str:
    """Why no masked copy can be prepared for ``request`` now ("" when it can): only what an
    accepted decision released, after the decision and before fulfilment."""
    if request.kind not in (RequestKind.copy.value, RequestKind.viewing.value):
        return f"request {request.id} asks for {request.kind}: nothing to mask"
    if request.decision not in (Decision.accepted.value, Decision.partial.value):
        return "a masked copy is made of what an accepted decision released"
    if request.state not in (RequestState.decided.value, RequestState.notified.value):
        return "a masked copy is made after the decision, before fulfilment"
    return ""


class MaskDesk:
    """Stills and previews of a request's approved scope, through a ledgered viewing."""

    def __init__(self, ctx: AppContext, viewing: ViewingService) -> None:
        self._ctx = ctx
        self._viewing = viewing

    def open(self, principal: Principal, request_id: int) -> MaskScope:
        """Open the viewing session the editor shows frames through (ledger first)."""
        need(principal, Permission.manage_requests)
        request = self._approved(request_id)
        cameras, lo, hi = approved_scope(request)
        session = self._viewing.open(
            principal,
            kind=ViewKind.playback,
            cameras=cameras,
            purpose=Purpose(PurposeCategory.request, _PURPOSE_TEXT, str(request_id)),
            start_ms=lo,
            end_ms=hi,
        )
        assert session.id is not None
        return MaskScope(request_id, cameras, lo, hi, session.id)

    def stills(
        self,
        principal: Principal,
        request_id: int,
        viewing_id: int,
        camera_id: str,
        *,
        count: int,
        plan: MaskPlan,
    ) -> list[Still]:
        """``count`` frames spread over the approved range, one per span, with detections."""
        need(principal, Permission.manage_requests)
        if not 1 <= count <= MAX_STILLS:
            raise ValidationFailed(f"ask for 1 to {MAX_STILLS} stills")
        lo, hi = self._session_range(principal, request_id, viewing_id)
        stills: list[Still] = []
        for span_start, span_end in sample_spans(lo, hi, count):
            try:
                source, origin = self._footage(
                    principal, viewing_id, camera_id, span_start, span_end
                )
            except NotFound:
                continue  # a gap in the recording: no frame for this span
            frame = _frame_at(source, origin, span_start)
            if frame is None:
                continue
            t_ms, bgr = frame
            height, width = bgr.shape[:2]
            # In colour: CenterFace sees what the masking pipeline gives it (YUV -> BGR).
            found = detect_frame(np.ascontiguousarray(bgr, np.uint8), plan.options)
            stills.append(
                Still(
                    camera_id=camera_id,
                    t_ms=t_ms,
                    span_start_ms=span_start,
                    span_end_ms=span_end,
                    width=width,
                    height=height,
                    jpeg=_jpeg(bgr),
                    detections=[Detection(k, box_to_norm(b, width, height)) for k, b in found],
                )
            )
        if not stills:
            raise NotFound(f"no recording of {camera_id} in the approved range")
        return stills

    def preview(
        self,
        principal: Principal,
        request_id: int,
        viewing_id: int,
        camera_id: str,
        *,
        start_ms: int,
        seconds: int,
        plan: MaskPlan,
    ) -> bytes:
        """A few seconds from ``start_ms`` masked as ``plan`` would mask them (an MP4)."""
        need(principal, Permission.manage_requests)
        if not 1 <= seconds <= MAX_PREVIEW_S:
            raise ValidationFailed(f"a preview lasts 1 to {MAX_PREVIEW_S} s")
        lo, hi = self._session_range(principal, request_id, viewing_id)
        start = min(max(start_ms, lo), hi - 1)
        end = min(start + seconds * 1000, hi)
        source, origin = self._footage(principal, viewing_id, camera_id, start, end)
        return mask_video(source, plan, origin_ms=origin, start_ms=start, end_ms=end).mp4

    # -- helpers ------------------------------------------------------------------------------

    def _approved(self, request_id: int) -> FootageRequest:
        with self._ctx.db.session() as session:
            request = session.get(FootageRequest, request_id)
            if request is None:
                raise NotFound(f"no request {request_id}")
            if reason := mask_refusal(request):
                raise Conflict(reason)
            return request

    def _session_range(
        self, principal: Principal, request_id: int, viewing_id: int
    ) -> tuple[int, int]:
        """The range of the editor's viewing session, which must be this request's own."""
        self._approved(request_id)
        with self._ctx.db.session() as session:
            viewing = session.get(ViewingSession, viewing_id)
            if (
                viewing is None
                or viewing.user_id != principal.user_id
                or viewing.request_ref != str(request_id)
                or viewing.start_ms is None
                or viewing.end_ms is None
            ):
                raise NotFound(f"no viewing session {viewing_id} for request {request_id}")
            return viewing.start_ms, viewing.end_ms

    def _footage(
        self, principal: Principal, viewing_id: int, camera_id: str, start_ms: int, end_ms: int
    ) -> tuple[bytes, int]:
        """The footage of [start_ms, end_ms) (from its enclosing key frame) as one span of the
        session, in memory, and the wall time of its first frame."""
        end = max(end_ms, start_ms + 1)
        stream = self._viewing.recorded(
            principal, viewing_id, camera_id, start_ms=start_ms, end_ms=end, transcode=False
        )
        try:
            source = b"".join(stream)
        finally:
            stream.close()
        with self._ctx.db.session() as session:
            first = session.exec(
                select(Segment)
                .where(
                    Segment.camera_id == camera_id,
                    Segment.end_ms > start_ms,
                    Segment.start_ms < end,
                    col(Segment.sealed_key).is_not(None),
                )
                .order_by(col(Segment.start_ms))
            ).first()
        if first is None:
            raise NotFound(f"no recording of {camera_id} in that range")
        origin = first_frame_ms(first, start_ms, self._ctx.vault, self._ctx.segment_files)
        return source, origin


def _frame_at(source: bytes, origin_ms: int, t_ms: int) -> tuple[int, np.ndarray] | None:
    """The first frame at or after ``t_ms`` (else the last one), as (wall ms, BGR array)."""
    chosen: tuple[int, np.ndarray] | None = None
    try:
        with av.open(io.BytesIO(source), "r") as container:
            stream = container.streams.video[0]
            first_pts: int | None = None
            for frame in container.decode(stream):
                if first_pts is None:
                    first_pts = frame.pts
                at = origin_ms
                if frame.pts is not None and frame.time_base is not None and first_pts is not None:
                    at += round((frame.pts - first_pts) * frame.time_base * 1000)
                chosen = (at, frame.to_ndarray(format="bgr24"))
                if at >= t_ms:
                    break
    except av.error.FFmpegError as exc:
        raise MediaError(f"the footage did not decode: {exc}") from exc
    return chosen


def _jpeg(bgr: np.ndarray) -> bytes:
    height, width = bgr.shape[:2]
    if width > STILL_WIDTH:
        size = (STILL_WIDTH, max(2, round(height * STILL_WIDTH / width)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise MediaError("the still could not be encoded")
    return bytes(encoded.tobytes())
