"""What to purge, decided by pure functions (no I/O, time passed in).

A segment's age has two ends. The group maximum counts from its first frame and the minimum
from its last, so a segment is due at ``max(start + max_days, end + min_days)``: no frame lives
past ``max_days`` unless a minimum forbids it, and no frame younger than ``min_days`` is ever
purged. Where they collide (``min_days == max_days``, e.g. operating rooms) the minimum wins:
the first frame of a segment then lives up to one segment length past ``max_days``.

Holds win over everything: a segment overlapping an active hold on its camera is never chosen,
by retention, by storage pressure or by a deletion request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DAY_MS",
    "HoldSpan",
    "Rule",
    "SegmentSpan",
    "StorageState",
    "expired",
    "expired_holds",
    "expiry_ms",
    "is_held",
    "pressure_victims",
    "rules_by_group",
    "storage_state",
    "under_minimum",
]

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Rule:
    """A group's retention bounds (R-RET-1, R-RET-2)."""

    min_days: int
    max_days: int
    day_ms: int = DAY_MS  # shorter only in tests and benchmarks (``retention.day_s``)

    @property
    def min_ms(self) -> int:
        return self.min_days * self.day_ms

    @property
    def max_ms(self) -> int:
        return self.max_days * self.day_ms

    def cutoffs(self, now_ms: int) -> tuple[int, int]:
        """(latest start, latest end) of a due segment: ``start <= a and end <= b`` iff due."""
        return now_ms - self.max_ms, now_ms - self.min_ms


@dataclass(frozen=True)
class SegmentSpan:
    """The facts about a segment that decisions need."""

    id: int
    camera_id: str
    start_ms: int
    end_ms: int
    size_bytes: int = 0


@dataclass(frozen=True)
class HoldSpan:
    """An active hold: its cameras and held range. Both ends are inclusive (conservative)."""

    hold_id: int
    camera_ids: frozenset[str]
    start_ms: int
    end_ms: int
    expires_ms: int | None = None

    def covers(self, segment: SegmentSpan) -> bool:
        return (
            segment.camera_id in self.camera_ids
            and self.start_ms <= segment.end_ms
            and segment.start_ms <= self.end_ms
        )


class StorageState(StrEnum):
    """Free space against the two thresholds of ``[storage]``."""

    ok = "ok"
    low = "low"  # below alarm_free_bytes: alarm, no purge
    pressure = "pressure"  # below min_free_bytes: purge oldest unprotected footage


def rules_by_group(groups: Iterable[tuple[str, int, int]], day_s: int) -> dict[str, Rule]:
    """Group name -> its rule, from (name, min_days, max_days) and ``retention.day_s``."""
    return {name: Rule(low, high, day_s * 1000) for name, low, high in groups}


def expiry_ms(segment: SegmentSpan, rule: Rule) -> int:
    """When retention purges ``segment`` (it must be gone within 60 s of this)."""
    return max(segment.start_ms + rule.max_ms, segment.end_ms + rule.min_ms)


def under_minimum(segment: SegmentSpan, rule: Rule, now_ms: int) -> bool:
    """True while some frame of ``segment`` is younger than the group minimum."""
    return now_ms < segment.end_ms + rule.min_ms


def is_held(segment: SegmentSpan, holds: Iterable[HoldSpan]) -> bool:
    return any(hold.covers(segment) for hold in holds)


def expired(
    segments: Iterable[SegmentSpan],
    rules: Mapping[str, Rule],
    holds: Sequence[HoldSpan],
    now_ms: int,
) -> list[SegmentSpan]:
    """Segments retention must purge at ``now_ms``; a camera with no rule keeps everything."""
    chosen = []
    for segment in segments:
        rule = rules.get(segment.camera_id)
        if rule is None or expiry_ms(segment, rule) > now_ms or is_held(segment, holds):
            continue
        chosen.append(segment)
    return chosen


def pressure_victims(
    oldest_first: Iterable[SegmentSpan],
    rules: Mapping[str, Rule],
    holds: Sequence[HoldSpan],
    now_ms: int,
    needed_bytes: int,
) -> list[SegmentSpan]:
    """The oldest segments, neither held nor under their minimum, that free ``needed_bytes``."""
    chosen: list[SegmentSpan] = []
    freed = 0
    for segment in oldest_first:
        if freed >= needed_bytes:
            break
        rule = rules.get(segment.camera_id)
        if rule is None or under_minimum(segment, rule, now_ms) or is_held(segment, holds):
            continue
        chosen.append(segment)
        freed += segment.size_bytes
    return chosen


def expired_holds(holds: Iterable[HoldSpan], now_ms: int) -> list[HoldSpan]:
    """Holds whose expiry has passed (the cycle releases them)."""
    return [h for h in holds if h.expires_ms is not None and h.expires_ms <= now_ms]


def storage_state(free_bytes: int, min_free_bytes: int, alarm_free_bytes: int) -> StorageState:
    if free_bytes < min_free_bytes:
        return StorageState.pressure
    if free_bytes < alarm_free_bytes:
        return StorageState.low
    return StorageState.ok
