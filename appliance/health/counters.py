"""The recorder's per-day counters, kept in ``camera_day_counter`` so that the health page and
``/metrics`` (in another thread, process or node) read what the recorder threads count.

Days are site-local (``YYYY-MM-DD`` in ``site.timezone``): "frames dropped today" means the
clinic's today.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from sqlmodel import Session, col, select

from appliance.models.health import CameraDayCounter

__all__ = ["add_dropped_frames", "day_of", "dropped_frames_on"]


def day_of(ms: int, zone: tzinfo) -> str:
    """The site-local day of ``ms`` (UTC milliseconds) as ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone).strftime("%Y-%m-%d")


def add_dropped_frames(
    session: Session, camera_id: str, count: int, now_ms: int, zone: tzinfo
) -> None:
    """Add ``count`` frames dropped by ``camera_id``'s ingest to today's counter."""
    if count <= 0:
        return
    day = day_of(now_ms, zone)
    row = session.get(CameraDayCounter, (camera_id, day))
    if row is None:
        row = CameraDayCounter(camera_id=camera_id, day=day, frames_dropped=0, updated_ms=now_ms)
    row.frames_dropped += count
    row.updated_ms = now_ms
    session.add(row)
    session.flush()


def dropped_frames_on(session: Session, day: str) -> dict[str, int]:
    """camera id -> frames dropped on ``day`` (cameras with none are absent)."""
    rows = session.exec(select(CameraDayCounter).where(col(CameraDayCounter.day) == day)).all()
    return {row.camera_id: row.frames_dropped for row in rows}
