"""The purge cycle on real files and a real database: group boundaries, the 60-s deadline,
holds, deletion requests; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import Conflict, ValidationFailed
from appliance.health.storage import storage_health
from appliance.ledger import EventType
from appliance.models import DestructionRecord, Segment
from appliance.retention import (
    Reason,
    Retention,
    delete_footage,
    find_destruction,
    place_hold,
    release_hold,
)
from appliance.retention.policy import DAY_MS
from tests.support.config import SettingsFactory
from tests.support.segments import MINUTE_MS, assert_consistent, make_segments


def _ids(ctx: AppContext, camera_id: str) -> set[int]:
    with ctx.db.session() as session:
        return {
            int(i or 0)
            for i in session.exec(select(Segment.id).where(Segment.camera_id == camera_id)).all()
        }


def _records(ctx: AppContext) -> list[DestructionRecord]:
    with ctx.db.session() as session:
        return list(session.exec(select(DestructionRecord).order_by(DestructionRecord.id)).all())  # type: ignore[arg-type]


def test_group_boundaries_day_29_30_31(any_ctx: AppContext, clock: FakeClock) -> None:
    ctx = any_ctx
    t0 = clock.now_ms()
    for camera in ("cam01", "or01", "day01"):
        make_segments(ctx, camera, [t0, t0 + MINUTE_MS])
    retention = Retention(ctx)

    clock.advance(timedelta(days=29))
    assert retention.run_cycle().expired.segments == 0

    clock.advance(timedelta(days=1))  # day 30: general's first segment starts exactly 30 d ago
    retention.run_cycle()
    assert len(_ids(ctx, "cam01")) == 1
    assert len(_ids(ctx, "or01")) == 2  # 30/30: the minimum counts from the last frame
    clock.advance(timedelta(minutes=1))
    retention.run_cycle()
    assert _ids(ctx, "cam01") == set()
    assert len(_ids(ctx, "or01")) == 1

    clock.advance(timedelta(days=1))  # day 31
    retention.run_cycle()
    assert _ids(ctx, "or01") == set()
    assert len(_ids(ctx, "day01")) == 2  # daycare keeps 60..90 days

    clock.set(clock.now() + timedelta(days=58))  # day 89
    retention.run_cycle()
    assert len(_ids(ctx, "day01")) == 2
    clock.advance(timedelta(days=1))  # day 90 (+1 min)
    retention.run_cycle()
    assert _ids(ctx, "day01") == set()

    assert_consistent(ctx)
    records = _records(ctx)
    assert sum(r.segment_count for r in records) == 6
    assert {r.reason for r in records} == {Reason.retention.value}
    assert all(r.method == "key destroyed + file unlinked" for r in records)
    entries = ctx.ledger.entries(events=[EventType.purge], limit=None)
    assert sorted((e.camera_id, e.data["destruction_id"]) for e in entries) == sorted(
        (r.camera_id, r.id) for r in records
    )
    assert ctx.ledger.verify().ok


def test_purged_by_the_first_cycle_after_due(ctx: AppContext, clock: FakeClock) -> None:
    """With cycles every 30 s (the configured maximum) footage is gone within 30 s of due."""
    assert ctx.settings.retention.cycle_interval_s <= 30
    t0 = clock.now_ms()
    (made,) = make_segments(ctx, "cam01", [t0])
    due = t0 + 30 * DAY_MS
    clock.set(clock.now() + timedelta(milliseconds=due - t0 - 10_000))
    retention = Retention(ctx)
    retention.run_cycle()
    assert _ids(ctx, "cam01") == {made.id}
    clock.advance(30)  # the next cycle
    retention.run_cycle()
    assert _ids(ctx, "cam01") == set()
    (record,) = _records(ctx)
    assert record.executed_ms - due <= 60_000


def test_holds_survive_retention_until_released(any_ctx: AppContext, clock: FakeClock) -> None:
    ctx = any_ctx
    t0 = clock.now_ms()
    made = make_segments(ctx, "cam01", [t0 + i * MINUTE_MS for i in range(4)])
    make_segments(ctx, "cam02", [t0])
    with ctx.db.session() as session:
        hold = place_hold(
            ctx,
            session,
            camera_ids=["cam01"],
            start_ms=t0 + 30_000,  # inside segment 0 ...
            end_ms=t0 + MINUTE_MS,  # ... to the first ms of segment 1
            reason="경찰 수사 협조 요청",
            reference="REQ-2026-0001",
            placed_by="officer",
        )
    clock.advance(timedelta(days=45))
    report = Retention(ctx).run_cycle()
    assert report.expired.segments == 3  # cam01 segments 2 and 3, and cam02's
    assert _ids(ctx, "cam01") == {made[0].id, made[1].id}
    assert_consistent(ctx)

    with ctx.db.session() as session:
        release_hold(ctx, session, hold.hold.id or 0, released_by="officer", reason="수사 종결")
    Retention(ctx).run_cycle()
    assert _ids(ctx, "cam01") == set()
    refs = [
        e.ref for e in ctx.ledger.entries(events=[EventType.hold_placed, EventType.hold_released])
    ]
    assert refs == [str(hold.hold.id)] * 2


def test_expired_hold_is_released_by_the_cycle(ctx: AppContext, clock: FakeClock) -> None:
    t0 = clock.now_ms()
    make_segments(ctx, "cam01", [t0])
    with ctx.db.session() as session:
        hold = place_hold(
            ctx,
            session,
            camera_ids=["cam01"],
            start_ms=t0,
            end_ms=t0 + MINUTE_MS,
            reason="열람 청구",
            reference="REQ-7",
            placed_by="officer",
            expires_ms=t0 + 40 * DAY_MS,
        )
    clock.advance(timedelta(days=35))
    report = Retention(ctx).run_cycle()
    assert report.released_holds == [] and report.expired.segments == 0
    clock.advance(timedelta(days=5))
    report = Retention(ctx).run_cycle()
    assert report.released_holds == [hold.hold.id]
    assert report.expired.segments == 1
    (entry,) = ctx.ledger.entries(events=[EventType.hold_released])
    assert entry.actor == "retention" and entry.data["reason"] == "expired"


def test_hold_validation(ctx: AppContext) -> None:
    with ctx.db.session() as session, pytest.raises(ValidationFailed, match="at least one camera"):
        place_hold(
            ctx,
            session,
            camera_ids=[],
            start_ms=0,
            end_ms=1,
            reason="r",
            reference="",
            placed_by="o",
        )


def test_deletion_request(any_ctx: AppContext, clock: FakeClock) -> None:
    ctx = any_ctx
    t0 = clock.now_ms()
    cam = make_segments(ctx, "cam01", [t0 + i * MINUTE_MS for i in range(5)])
    make_segments(ctx, "or01", [t0])
    clock.advance(timedelta(days=2))

    # Operating-room footage is within its 30-day legal minimum: refused, nothing destroyed.
    with pytest.raises(Conflict, match="minimum"):
        delete_footage(ctx, ["or01"], t0, t0 + MINUTE_MS, actor="officer")
    assert len(_ids(ctx, "or01")) == 1

    with ctx.db.session() as session:
        place_hold(
            ctx,
            session,
            camera_ids=["cam01"],
            start_ms=t0 + 4 * MINUTE_MS,
            end_ms=t0 + 5 * MINUTE_MS,
            reason="수사",
            reference="POL-1",
            placed_by="officer",
        )
    with pytest.raises(Conflict, match="POL-1"):
        delete_footage(ctx, ["cam01"], t0, t0 + 5 * MINUTE_MS, actor="officer")
    assert len(_ids(ctx, "cam01")) == 5

    result = delete_footage(
        ctx, ["cam01"], t0 + 90_000, t0 + 2 * MINUTE_MS, actor="officer", note="REQ-9"
    )
    assert result.segments == 2  # segments 1 and 2 hold footage of that range
    assert _ids(ctx, "cam01") == {cam[0].id, cam[3].id, cam[4].id}
    (record,) = find_destruction_in(ctx, "cam01", t0 + 100_000, t0 + 110_000)
    assert record.id in result.record_ids
    assert record.reason == Reason.deletion_request.value and record.note == "REQ-9"
    assert_consistent(ctx)


def find_destruction_in(
    ctx: AppContext, camera_id: str, start: int, end: int
) -> list[DestructionRecord]:
    with ctx.db.session() as session:
        return find_destruction(session, camera_id, start, end)


def test_a_shortened_retention_day_purges_within_minutes(
    make_settings: SettingsFactory, clock: FakeClock
) -> None:
    """``retention.day_s`` (tests and bench/soak.py): max_days count days of 60 s, and the
    health page's purge lag counts the same way."""
    settings = make_settings(retention={"day_s": 60, "batch_size": 50})
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    try:
        t0 = clock.now_ms()
        make_segments(ctx, "cam01", [t0])
        retention = Retention(ctx)
        clock.advance(30 * 60 - 1)  # general keeps 30 "days": 30 minutes here
        assert retention.run_cycle().expired.segments == 0
        with ctx.db.session() as session:
            assert storage_health(session, settings, clock.now_ms(), []).purge_lag_ms == 0
        clock.advance(6)
        with ctx.db.session() as session:
            assert storage_health(session, settings, clock.now_ms(), []).purge_lag_ms == 5_000
        assert retention.run_cycle().expired.segments == 1
        assert _ids(ctx, "cam01") == set()
        (record,) = _records(ctx)
        assert record.executed_ms - (t0 + 30 * 60_000) == 5_000
    finally:
        ctx.close()
