"""Storage health: free space, bytes a day at the current rate, how many days of footage the
disk holds, the oldest footage of each group against its retention, and the purge lag (how long
the oldest expired, unheld segment has waited past its expiry). Pure rules, then the queries.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session, col

from appliance.models import Camera, Hold, Segment
from appliance.retention.holds import held_segment_clause
from appliance.retention.policy import DAY_MS, rules_by_group
from appliance.settings import Settings

__all__ = [
    "DiskUsage",
    "GroupAge",
    "StorageHealth",
    "days_fit",
    "disk_usage",
    "group_ages",
    "purge_lag_ms",
    "storage_health",
]

_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class DiskUsage:
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class GroupAge:
    """The oldest footage still stored in a group, against the group's retention."""

    name: str
    min_days: int
    max_days: int
    oldest_ms: int | None  # None: no footage
    day_ms: int = DAY_MS  # ``retention.day_s``

    def age_days(self, now_ms: int) -> float | None:
        return None if self.oldest_ms is None else (now_ms - self.oldest_ms) / self.day_ms

    def over_retention(self, now_ms: int) -> bool:
        """Older than max_days by more than a day: the purge is behind (or a hold keeps it)."""
        age = self.age_days(now_ms)
        return age is not None and age > self.max_days + 1


@dataclass(frozen=True)
class StorageHealth:
    total_bytes: int
    free_bytes: int
    stored_bytes: int  # every indexed segment
    min_free_bytes: int  # storage pressure purges below this
    alarm_free_bytes: int
    recorder_floor_bytes: int  # the recorder writes nothing below this (recorder.diskguard)
    bytes_per_day: float  # at the cameras' current bitrates
    days_fit: float | None  # None when nothing is being recorded
    groups: list[GroupAge]
    purge_lag_ms: int  # 0 when nothing expired waits
    holds_active: int


def days_fit(
    stored_bytes: int, free_bytes: int, min_free_bytes: int, bytes_per_day: float
) -> float | None:
    """Days of footage the disk holds at ``bytes_per_day``: what is stored plus what may still
    be written before storage pressure starts purging early; None at no rate."""
    if bytes_per_day <= 0:
        return None
    return max(0, stored_bytes + free_bytes - min_free_bytes) / bytes_per_day


def disk_usage(path: Path) -> DiskUsage:
    """The file system holding ``path`` (its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    usage = shutil.disk_usage(path)
    return DiskUsage(usage.total, usage.free)


def group_ages(settings: Settings, oldest: dict[str, int]) -> list[GroupAge]:
    day_ms = settings.retention.day_s * 1000
    return [
        GroupAge(g.name, g.min_days, g.max_days, oldest.get(g.name), day_ms)
        for g in settings.groups
    ]


def purge_lag_ms(expiries: Iterable[int], now_ms: int) -> int:
    """How long past its expiry the longest-waiting segment is (0 if none is due)."""
    return max((now_ms - e for e in expiries if e <= now_ms), default=0)


def _oldest_per_group(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(col(Camera.group_name), func.min(col(Segment.start_ms)))
        .join(Camera, col(Camera.id) == col(Segment.camera_id))
        .group_by(col(Camera.group_name))
    ).all()
    return {str(name): int(oldest) for name, oldest in rows if oldest is not None}


def _expiries(session: Session, settings: Settings, now_ms: int) -> list[int]:
    """Per camera, the expiry of its oldest due, unheld segment (index range per camera)."""
    rules = rules_by_group(
        ((g.name, g.min_days, g.max_days) for g in settings.groups), settings.retention.day_s
    )
    out: list[int] = []
    cameras = session.execute(select(col(Camera.id), col(Camera.group_name))).all()
    for camera_id, group_name in cameras:
        rule = rules.get(group_name)
        if rule is None:
            continue
        start_cut, end_cut = rule.cutoffs(now_ms)
        row = session.execute(
            select(col(Segment.start_ms), col(Segment.end_ms))
            .where(
                col(Segment.camera_id) == camera_id,
                col(Segment.start_ms) <= start_cut,
                col(Segment.end_ms) <= end_cut,
                ~held_segment_clause(),
            )
            .order_by(col(Segment.start_ms))
            .limit(1)
        ).first()
        if row is not None:
            out.append(max(int(row[0]) + rule.max_ms, int(row[1]) + rule.min_ms))
    return out


def storage_health(
    session: Session, settings: Settings, now_ms: int, bitrates_bps: Iterable[float]
) -> StorageHealth:
    disk = disk_usage(settings.segments_dir)
    stored = int(
        session.execute(select(func.coalesce(func.sum(Segment.size_bytes), 0))).scalar_one()
    )
    per_day = sum(bitrates_bps) / 8 * _SECONDS_PER_DAY
    holds = int(
        session.execute(
            select(func.count()).select_from(Hold).where(col(Hold.released_ms).is_(None))
        ).scalar_one()
    )
    return StorageHealth(
        total_bytes=disk.total_bytes,
        free_bytes=disk.free_bytes,
        stored_bytes=stored,
        min_free_bytes=settings.storage.min_free_bytes,
        alarm_free_bytes=settings.storage.alarm_free_bytes,
        recorder_floor_bytes=settings.recorder.disk_floor_bytes,
        bytes_per_day=per_day,
        days_fit=days_fit(stored, disk.free_bytes, settings.storage.min_free_bytes, per_day),
        groups=group_ages(settings, _oldest_per_group(session)),
        purge_lag_ms=purge_lag_ms(_expiries(session, settings, now_ms), now_ms),
        holds_active=holds,
    )
