"""Per-camera recording status: what the API and metrics show, kept in memory and in the DB.

The row in ``camera_status`` is written only when the state or reason changes, so a recorder in
another process (or on another node) is still visible to the API.
"""

from __future__ import annotations

import errno
import logging
import re
import threading
from dataclasses import dataclass, replace
from enum import StrEnum

import av

from appliance.clock import Clock
from appliance.db import Database
from appliance.models.media import CameraStatus
from appliance.recorder_state import CameraState

__all__ = [
    "CameraState",
    "FailReason",
    "IngestError",
    "StatusBoard",
    "StatusInfo",
    "classify_error",
    "redact_credentials",
]

log = logging.getLogger(__name__)


class FailReason(StrEnum):
    none = ""
    unreachable = "unreachable"  # refused, timed out, no route, 404
    unauthorized = "unauthorized"  # the camera answered 401 (credentials in the URL are wrong)
    no_video = "no_video"  # the stream has no video track
    unsupported_codec = "unsupported_codec"  # video that is neither H.264 nor H.265
    stream_ended = "stream_ended"  # the camera closed the session
    stream_error = "stream_error"  # anything else the demuxer reported
    recorder_not_running = "recorder_not_running"  # for gaps: the recorder itself was down
    disk_floor = "disk_floor"  # the recorder's disk is at its free-space floor: nothing written
    node_takeover = "node_takeover"  # for gaps: the camera's node died; another took it over
    node_handover = "node_handover"  # for gaps: handed from one node to another cleanly

    @property
    def retry_slowly(self) -> bool:
        """Retrying soon will not help (and repeated 401s may lock the camera's account)."""
        return self in (FailReason.unauthorized, FailReason.no_video, FailReason.unsupported_codec)


class IngestError(Exception):
    """A camera problem the native RTSP client (recorder.rtsp) recognised, with its reason.

    ``use_ffmpeg``: the camera works, but needs what only FFmpeg's demuxer does (the worker
    reads it through PyAV from then on). ``reorder_depth``: the camera sends B-frames deeper
    than its SPS declares; the worker's next native session uses that depth
    (``recorder.rtsp.dts``)."""

    def __init__(
        self, reason: FailReason, detail: str, *, use_ffmpeg: bool = False, reorder_depth: int = 0
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.use_ffmpeg = use_ffmpeg
        self.reorder_depth = reorder_depth


_UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ETIMEDOUT,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EHOSTDOWN,
    errno.ENETDOWN,
    errno.EPIPE,
}


_USERINFO = re.compile(r"(?i)\b(rtsps?|https?)://[^/@\s'\"]*@")


def redact_credentials(text: str) -> str:
    """Remove ``user:password@`` from URLs: FFmpeg's messages quote the camera URL, and the
    status detail, the run's end reason and the logs must not carry the camera password."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}://***@", text)


def classify_error(exc: BaseException, *, opening: bool = False) -> FailReason:
    """Map what opening (``opening``) or reading an RTSP stream raised to a status reason.

    While opening, anything but a refusal means no camera answered properly: unreachable.
    """
    if isinstance(exc, IngestError):
        return exc.reason
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return FailReason.unauthorized
    if isinstance(exc, av.error.HTTPNotFoundError | av.error.ExitError | TimeoutError):
        return FailReason.unreachable
    if isinstance(exc, av.error.EOFError):
        return FailReason.stream_ended
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE_ERRNOS:
        return FailReason.unreachable
    if isinstance(exc, av.error.HTTPClientError | av.error.HTTPServerError):
        return FailReason.unreachable
    return FailReason.unreachable if opening else FailReason.stream_error


@dataclass(frozen=True)
class StatusInfo:
    camera_id: str
    state: CameraState
    reason: FailReason
    detail: str
    since_ms: int
    run_id: int | None = None
    last_segment_end_ms: int | None = None


class StatusBoard:
    """Thread-safe status of every camera; persists changes to ``camera_status``."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()
        self._status: dict[str, StatusInfo] = {}
        # Writes are serialized and always write the latest state; a camera whose last write
        # failed (a locked database under load) is written again at its next indexed segment,
        # so its row does not keep saying "starting" while it records.
        self._write_lock = threading.Lock()
        self._unsaved: set[str] = set()

    def get(self, camera_id: str) -> StatusInfo | None:
        with self._lock:
            return self._status.get(camera_id)

    def all(self) -> dict[str, StatusInfo]:
        with self._lock:
            return dict(self._status)

    def set(
        self,
        camera_id: str,
        state: CameraState,
        reason: FailReason = FailReason.none,
        detail: str = "",
        *,
        run_id: int | None = None,
    ) -> StatusInfo:
        now = self._clock.now_ms()
        with self._lock:
            old = self._status.get(camera_id)
            if old is not None and (old.state, old.reason, old.run_id) == (state, reason, run_id):
                return old
            info = StatusInfo(
                camera_id,
                state,
                reason,
                redact_credentials(detail)[:500],
                now,
                run_id,
                old.last_segment_end_ms if old else None,
            )
            self._status[camera_id] = info
        self._persist(camera_id)
        return info

    def segment_indexed(self, camera_id: str, end_ms: int) -> None:
        """Remember the newest indexed segment (its row is written by the indexer)."""
        with self._lock:
            old = self._status.get(camera_id)
            if old is not None:
                self._status[camera_id] = replace(old, last_segment_end_ms=end_ms)
            retry = camera_id in self._unsaved
        if retry:
            self._persist(camera_id)

    def _persist(self, camera_id: str) -> None:
        with self._write_lock:
            with self._lock:
                info = self._status[camera_id]
            now = self._clock.now_ms()
            if self._write(info, now):
                self._unsaved.discard(camera_id)
            else:
                self._unsaved.add(camera_id)

    def _write(self, info: StatusInfo, now: int) -> bool:
        try:
            with self._db.session() as session:
                row = session.get(CameraStatus, info.camera_id)
                if row is None:
                    row = CameraStatus(
                        camera_id=info.camera_id, state="", since_ms=now, updated_ms=now
                    )
                row.state = info.state.value
                row.reason = info.reason.value
                row.detail = info.detail
                row.since_ms = info.since_ms
                row.run_id = info.run_id
                row.updated_ms = now
                session.add(row)
        except Exception:
            # Status is informational: a database hiccup must not stop recording.
            log.exception("could not store the status of %s", info.camera_id)
            return False
        return True
