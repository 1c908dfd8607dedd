"""The timeline of one camera and day: recorded ranges, gaps and holds (no video, no ledger).

``merge_ranges`` and ``day_bounds`` are pure; ``camera_day`` reads the index with three
queries bounded by the day (the segment index on (camera_id, start_ms) serves the first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, or_, select

from appliance.clock import to_ms
from appliance.models import Gap, Hold, HoldCamera, Segment
from appliance.models.media import MAX_SEGMENT_MS

__all__ = ["JOIN_TOLERANCE_MS", "CameraDay", "HoldSpan", "camera_day", "day_bounds", "merge_ranges"]

# Consecutive segments closer than this are one continuous recording (cuts, clock jitter).
JOIN_TOLERANCE_MS = 1500


@dataclass(frozen=True)
class HoldSpan:
    hold_id: int
    start_ms: int
    end_ms: int
    reason: str
    reference: str


@dataclass
class CameraDay:
    camera_id: str
    day: date
    from_ms: int
    to_ms: int
    recorded: list[tuple[int, int]] = field(default_factory=list)
    gaps: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, reason)
    holds: list[HoldSpan] = field(default_factory=list)

    @property
    def recorded_ms(self) -> int:
        return sum(end - start for start, end in self.recorded)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[int, int]:
    """[start, end) of a local calendar day in UTC ms (23 or 25 hours across DST changes)."""
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return to_ms(start), to_ms(end)


def merge_ranges(
    ranges: Iterable[tuple[int, int]],
    *,
    clip: tuple[int, int] | None = None,
    tolerance_ms: int = JOIN_TOLERANCE_MS,
) -> list[tuple[int, int]]:
    """Sorted, merged ranges (touching within ``tolerance_ms``), clipped to ``clip``."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if clip is not None:
            start, end = max(start, clip[0]), min(end, clip[1])
        if end <= start:
            continue
        if merged and start <= merged[-1][1] + tolerance_ms:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def camera_day(
    session: Session, camera_id: str, day: date, zone: ZoneInfo, now_ms: int
) -> CameraDay:
    from_ms, to_ms_ = day_bounds(day, zone)
    result = CameraDay(camera_id, day, from_ms, to_ms_)
    spans = session.exec(
        select(Segment.start_ms, Segment.end_ms).where(
            Segment.camera_id == camera_id,
            Segment.start_ms >= from_ms - MAX_SEGMENT_MS,
            Segment.start_ms < to_ms_,
            Segment.end_ms > from_ms,
            col(Segment.sealed_key).is_not(None),  # shredded footage is no longer recorded
        )
    ).all()
    # A segment never spans more than MAX_SEGMENT_MS, so the day's rows are a bounded range of
    # the (camera_id, start_ms) index; the end_ms filter drops the ones that end before the day.
    result.recorded = merge_ranges(spans, clip=(from_ms, to_ms_))
    gaps = session.exec(
        select(Gap).where(
            Gap.camera_id == camera_id,
            Gap.start_ms < to_ms_,
            or_(col(Gap.end_ms).is_(None), col(Gap.end_ms) > from_ms),
        )
    ).all()
    for gap in sorted(gaps, key=lambda g: g.start_ms):
        end = gap.end_ms if gap.end_ms is not None else now_ms
        start, end = max(gap.start_ms, from_ms), min(end, to_ms_)
        if end > start:
            result.gaps.append((start, end, gap.reason))
    holds = session.exec(
        select(Hold)
        .join(HoldCamera, col(HoldCamera.hold_id) == col(Hold.id))
        .where(
            HoldCamera.camera_id == camera_id,
            col(Hold.released_ms).is_(None),
            Hold.start_ms < to_ms_,
            Hold.end_ms > from_ms,
        )
    ).all()
    for hold in sorted(holds, key=lambda h: h.start_ms):
        assert hold.id is not None
        result.holds.append(
            HoldSpan(hold.id, hold.start_ms, hold.end_ms, hold.reason, hold.reference)
        )
    return result
