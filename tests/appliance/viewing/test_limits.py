"""The stream counters (issue 13, finding 5): recorded playbacks have their own lower limits
inside the per-user and per-box ones; live streams are not counted against them."""

from __future__ import annotations

import pytest

from appliance.errors import RateLimited
from appliance.viewing.limits import StreamSlots


def _slots() -> StreamSlots:
    return StreamSlots(per_user=6, per_box=8, transcodes=1, recorded_per_user=2, recorded_per_box=3)


def test_recorded_streams_stop_at_their_own_per_user_limit_live_ones_do_not() -> None:
    slots = _slots()
    first, _ = slots.take(1, recorded=True), slots.take(1, recorded=True)
    with pytest.raises(RateLimited, match="recorded_streams_per_user"):
        slots.take(1, recorded=True)
    live = [slots.take(1) for _ in range(4)]  # a live grid still fits the per-user limit
    with pytest.raises(RateLimited, match="streams_per_user"):
        slots.take(1)
    first.release()
    first.release()  # idempotent: frees one recorded slot, not two
    slots.take(1, recorded=True)
    with pytest.raises(RateLimited):
        slots.take(1, recorded=True)
    assert slots.counts(1) == (6, 0)
    for slot in live:
        slot.release()


def test_recorded_streams_of_the_box_are_bounded_across_users() -> None:
    slots = _slots()
    slots.take(1, recorded=True), slots.take(2, recorded=True), slots.take(3, recorded=True)
    with pytest.raises(RateLimited, match="recorded_streams_per_box"):
        slots.take(4, recorded=True)
    slots.take(4)  # a live stream of a fourth user is still served


def test_recorded_limits_never_exceed_the_overall_ones() -> None:
    slots = StreamSlots(per_user=2, per_box=3, transcodes=0, recorded_per_user=8)
    assert (slots.recorded_per_user, slots.recorded_per_box) == (2, 3)
