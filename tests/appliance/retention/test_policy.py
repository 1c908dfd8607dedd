"""The pure retention decisions (R-RET-1..3) at the day boundaries of each group."""

from __future__ import annotations

import pytest

from appliance.retention.policy import (
    DAY_MS,
    HoldSpan,
    Rule,
    SegmentSpan,
    StorageState,
    expired,
    expired_holds,
    expiry_ms,
    is_held,
    pressure_victims,
    storage_state,
    under_minimum,
)

GENERAL = Rule(0, 30)
OPERATING_ROOM = Rule(30, 30)
DAYCARE = Rule(60, 90)
T0 = 1_772_323_200_000  # 2026-03-01 00:00 UTC
MINUTE = 60_000


def seg(
    start: int = T0, length: int = MINUTE, camera: str = "cam01", size: int = 100
) -> SegmentSpan:
    return SegmentSpan(1, camera, start, start + length, size)


@pytest.mark.parametrize(
    ("rule", "day", "purged"),
    [
        (GENERAL, 29, False),
        (GENERAL, 30, True),
        (GENERAL, 31, True),
        (OPERATING_ROOM, 29, False),
        (OPERATING_ROOM, 30, False),  # the first frame is 30 days old, the last is not yet
        (OPERATING_ROOM, 31, True),
        (DAYCARE, 59, False),
        (DAYCARE, 60, False),
        (DAYCARE, 61, False),
        (DAYCARE, 89, False),
        (DAYCARE, 90, True),
        (DAYCARE, 91, True),
    ],
)
def test_expiry_at_day_boundaries(rule: Rule, day: int, purged: bool) -> None:
    segment = seg()
    chosen = expired([segment], {"cam01": rule}, [], T0 + day * DAY_MS)
    assert (chosen == [segment]) is purged


def test_due_counts_max_from_first_frame_and_min_from_last() -> None:
    segment = seg(length=10 * MINUTE)
    assert expiry_ms(segment, GENERAL) == T0 + 30 * DAY_MS
    assert expiry_ms(segment, DAYCARE) == T0 + 90 * DAY_MS
    # min == max: the minimum wins, so the whole segment is 30 days old when it goes.
    assert expiry_ms(segment, OPERATING_ROOM) == T0 + 10 * MINUTE + 30 * DAY_MS


def test_exactly_at_due_is_expired_one_ms_before_is_not() -> None:
    segment = seg()
    due = expiry_ms(segment, GENERAL)
    assert not expired([segment], {"cam01": GENERAL}, [], due - 1)
    assert expired([segment], {"cam01": GENERAL}, [], due) == [segment]


def test_minimum_protects_until_last_frame_is_old_enough() -> None:
    segment = seg()
    assert under_minimum(segment, DAYCARE, T0 + 60 * DAY_MS)
    assert not under_minimum(segment, DAYCARE, T0 + MINUTE + 60 * DAY_MS)
    assert not under_minimum(segment, GENERAL, T0 + MINUTE)


def test_camera_without_rule_keeps_everything() -> None:
    assert expired([seg(camera="lost")], {"cam01": GENERAL}, [], T0 + 1000 * DAY_MS) == []


def test_hold_overlap_is_inclusive_and_per_camera() -> None:
    hold = HoldSpan(1, frozenset({"cam01"}), T0 + MINUTE, T0 + 2 * MINUTE)
    assert is_held(seg(T0), [hold])  # ends exactly where the hold starts
    assert is_held(seg(T0 + 2 * MINUTE), [hold])  # starts exactly where it ends
    assert not is_held(seg(T0 + 2 * MINUTE + 1), [hold])
    assert not is_held(seg(T0, camera="cam02"), [hold])


def test_held_footage_is_never_expired() -> None:
    segment = seg()
    hold = HoldSpan(7, frozenset({"cam01"}), T0, T0 + MINUTE)
    assert expired([segment], {"cam01": GENERAL}, [hold], T0 + 400 * DAY_MS) == []


def test_pressure_takes_oldest_unprotected_until_enough() -> None:
    now = T0 + 40 * DAY_MS
    segments = [
        SegmentSpan(1, "day01", T0, T0 + MINUTE, 100),  # daycare: under its 60-day minimum
        SegmentSpan(2, "cam01", T0 + MINUTE, T0 + 2 * MINUTE, 100),  # held
        SegmentSpan(3, "cam01", T0 + 2 * MINUTE, T0 + 3 * MINUTE, 100),
        SegmentSpan(4, "cam02", T0 + 3 * MINUTE, T0 + 4 * MINUTE, 100),
        SegmentSpan(5, "cam02", T0 + 4 * MINUTE, T0 + 5 * MINUTE, 100),
    ]
    rules = {"day01": DAYCARE, "cam01": GENERAL, "cam02": GENERAL}
    hold = HoldSpan(1, frozenset({"cam01"}), T0 + MINUTE, T0 + MINUTE + 1)
    chosen = pressure_victims(segments, rules, [hold], now, needed_bytes=150)
    assert [s.id for s in chosen] == [3, 4]
    assert pressure_victims(segments[:2], rules, [hold], now, needed_bytes=150) == []


def test_expired_holds_and_storage_state() -> None:
    open_ended = HoldSpan(1, frozenset({"cam01"}), T0, T0, None)
    expiring = HoldSpan(2, frozenset({"cam01"}), T0, T0, T0 + DAY_MS)
    assert expired_holds([open_ended, expiring], T0 + DAY_MS - 1) == []
    assert expired_holds([open_ended, expiring], T0 + DAY_MS) == [expiring]
    assert storage_state(10, 20, 40) is StorageState.pressure
    assert storage_state(20, 20, 40) is StorageState.low
    assert storage_state(40, 20, 40) is StorageState.ok
