"""Each camera's health: its recorder state, how long since its last segment, the bitrate and
frame rate now (from the newest segments' sizes, durations and frame counts in the index), the
frames dropped today, its codec and ingest path. Pure rules first, then the one query.

No picture: a still of the latest key frame would be a viewing of footage (design/health.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from appliance.health.counters import day_of, dropped_frames_on
from appliance.models import Camera, CameraStatus, Segment
from appliance.recorder_state import CameraState
from appliance.settings import CameraConfig, Settings

__all__ = [
    "RATE_SEGMENTS",
    "RATE_WINDOW_MS",
    "CameraHealth",
    "SegmentFacts",
    "camera_health",
    "ingest_path",
    "is_down",
    "rates",
]

RATE_SEGMENTS = 5  # the newest segments the rates are computed from
RATE_WINDOW_MS = 300_000  # ... if they ended within this; older footage is not "now"


@dataclass(frozen=True)
class SegmentFacts:
    """What the rates need of one indexed segment."""

    start_ms: int
    end_ms: int
    size_bytes: int
    frames: int
    codec: str = ""


@dataclass(frozen=True)
class CameraHealth:
    id: str
    name: str
    location: str
    group: str
    enabled: bool
    state: str  # a CameraState value, "unknown" (no status yet) or "disabled"
    reason: str  # why it is not recording (unreachable, unauthorized, ...), else ""
    detail: str  # the recorder's last error, credentials removed
    since_ms: int | None  # when this state began
    last_segment_end_ms: int | None
    bitrate_bps: float | None  # now; None when nothing recent
    fps: float | None
    frames_dropped_today: int
    codec: str
    ingest: str  # native or ffmpeg (as configured; see ingest_path)

    def since_last_segment_s(self, now_ms: int) -> float | None:
        if self.last_segment_end_ms is None:
            return None
        return max(0.0, (now_ms - self.last_segment_end_ms) / 1000)


def rates(newest: Sequence[SegmentFacts], now_ms: int) -> tuple[float | None, float | None]:
    """(bits per second, frames per second) over the segments of ``newest`` that ended within
    ``RATE_WINDOW_MS`` of ``now_ms``; (None, None) when none did (not recording now)."""
    recent = [s for s in newest if now_ms - s.end_ms <= RATE_WINDOW_MS and s.end_ms > s.start_ms]
    span_ms = sum(s.end_ms - s.start_ms for s in recent)
    if not span_ms:
        return None, None
    seconds = span_ms / 1000
    return sum(s.size_bytes for s in recent) * 8 / seconds, sum(s.frames for s in recent) / seconds


def ingest_path(settings: Settings, camera: CameraConfig) -> str:
    """How the recorder reads the camera (recorder.ingest, except that audio groups and
    rtsps:// cameras always go through FFmpeg; see ``RecorderConfig.ingest``)."""
    if camera.url.lower().startswith("rtsps://"):
        return "ffmpeg"
    try:
        if settings.group(camera.group).audio_allowed:
            return "ffmpeg"
    except KeyError:
        pass
    return settings.recorder.ingest


def is_down(health: CameraHealth, now_ms: int, down_after_ms: int, segment_ms: int) -> bool:
    """Whether an enabled camera has not recorded for ``down_after_ms``: its state is not
    recording, or it says recording but no segment ended for that long plus two segment
    lengths (a stuck recorder)."""
    if not health.enabled:
        return False
    if health.state != CameraState.recording.value:
        return health.since_ms is not None and now_ms - health.since_ms >= down_after_ms
    last = health.last_segment_end_ms if health.last_segment_end_ms is not None else health.since_ms
    return last is not None and now_ms - last >= down_after_ms + 2 * segment_ms


def _newest(session: Session, camera_id: str) -> list[SegmentFacts]:
    rows = session.exec(
        select(Segment)
        .where(col(Segment.camera_id) == camera_id)
        .order_by(col(Segment.start_ms).desc())
        .limit(RATE_SEGMENTS)
    ).all()
    return [SegmentFacts(r.start_ms, r.end_ms, r.size_bytes, r.frames, r.codec) for r in rows]


def camera_health(session: Session, settings: Settings, now_ms: int) -> list[CameraHealth]:
    """Every configured camera, in configuration order."""
    statuses = {s.camera_id: s for s in session.exec(select(CameraStatus)).all()}
    rows = {c.id: c for c in session.exec(select(Camera)).all()}
    dropped = dropped_frames_on(session, day_of(now_ms, settings.zone))
    out: list[CameraHealth] = []
    for camera in settings.cameras:
        status = statuses.get(camera.id)
        newest = _newest(session, camera.id)
        bitrate, fps = rates(newest, now_ms)
        last_end = max((s.end_ms for s in newest), default=None)
        if status is not None and status.last_segment_end_ms is not None:
            last_end = max(last_end or 0, status.last_segment_end_ms)
        row = rows.get(camera.id)
        enabled = camera.enabled and (row is None or row.enabled)
        state = status.state if status is not None else "unknown"
        if not enabled:
            state = "disabled"
        out.append(
            CameraHealth(
                id=camera.id,
                name=camera.name,
                location=camera.location,
                group=camera.group,
                enabled=enabled,
                state=state,
                reason=status.reason if status is not None else "",
                detail=status.detail if status is not None else "",
                since_ms=status.since_ms if status is not None else None,
                last_segment_end_ms=last_end,
                bitrate_bps=bitrate,
                fps=fps,
                frames_dropped_today=dropped.get(camera.id, 0),
                codec=newest[0].codec if newest else "",
                ingest=ingest_path(settings, camera),
            )
        )
    return out
