"""Storage pressure: oldest unprotected footage goes first, never held or minimum footage;
if only protected footage is left, nothing is purged and an alarm is raised.

The free-space reading is injected: a fixed capacity minus the bytes of the segment files
really on disk, so purging really frees it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.models import DestructionRecord, Segment
from appliance.retention import AlarmKind, Reason, Retention, open_alarms, place_hold
from tests.support.retention import CtxFactory
from tests.support.segments import MINUTE_MS, assert_consistent, make_segments

SIZE = 1000
MIN_FREE = 1_000_000


def _free(root: Path, capacity: int) -> Callable[[], int]:
    def free() -> int:
        return capacity - sum(p.stat().st_size for p in root.rglob("*.seg"))

    return free


def _left(ctx: AppContext) -> dict[str, int]:
    with ctx.db.session() as session:
        counts: dict[str, int] = {}
        for camera_id in session.exec(select(Segment.camera_id)).all():
            counts[camera_id] = counts.get(camera_id, 0) + 1
        return counts


def _kinds(ctx: AppContext) -> set[str]:
    with ctx.db.session() as session:
        return {a.kind for a in open_alarms(session)}


def test_pressure_purges_oldest_unprotected_only(make_ctx: CtxFactory, clock: FakeClock) -> None:
    ctx = make_ctx(storage={"min_free_bytes": MIN_FREE, "alarm_free_bytes": 2 * MIN_FREE})
    t0 = clock.now_ms()
    make_segments(ctx, "day01", [t0 + i * MINUTE_MS for i in range(5)], size_bytes=SIZE)
    make_segments(
        ctx, "or01", [t0 + 15 * 86_400_000 + i * MINUTE_MS for i in range(5)], size_bytes=SIZE
    )
    general = make_segments(
        ctx, "cam01", [t0 + 20 * 86_400_000 + i * MINUTE_MS for i in range(6)], size_bytes=SIZE
    )
    make_segments(
        ctx, "cam02", [t0 + 25 * 86_400_000 + i * MINUTE_MS for i in range(4)], size_bytes=SIZE
    )
    with ctx.db.session() as session:
        place_hold(
            ctx,
            session,
            camera_ids=["cam01"],
            start_ms=general[0].start_ms,
            end_ms=general[1].start_ms,  # holds segments 0 and 1 (ends inclusive)
            reason="수사",
            reference="POL-2",
            placed_by="officer",
        )
    clock.advance(timedelta(days=40))
    used = 20 * SIZE
    root = ctx.settings.segments_dir
    retention = Retention(ctx, free_bytes=_free(root, MIN_FREE + used - 2500))
    report = retention.run_cycle()

    assert report.expired.segments == 0
    assert report.pressure.segments == 3  # 2500 bytes needed: the three oldest unprotected
    assert _left(ctx) == {"day01": 5, "or01": 5, "cam01": 3, "cam02": 4}
    with ctx.db.session() as session:
        remaining = {
            int(i or 0)
            for i in session.exec(select(Segment.id).where(Segment.camera_id == "cam01")).all()
        }
        records = session.exec(select(DestructionRecord)).all()
    assert {general[0].id, general[1].id} <= remaining  # held
    assert general[2].id not in remaining  # the oldest unheld general footage went first
    assert {r.reason for r in records} == {Reason.storage_pressure.value}
    assert AlarmKind.storage_pressure.value in _kinds(ctx)
    assert_consistent(ctx)

    # Everything left is held or under its minimum: nothing more is purged, an alarm says so.
    with ctx.db.session() as session:
        place_hold(
            ctx,
            session,
            camera_ids=["cam01", "cam02"],
            start_ms=t0,
            end_ms=clock.now_ms(),
            reason="소송",
            reference="COURT-1",
            placed_by="officer",
        )
    retention = Retention(ctx, free_bytes=_free(root, MIN_FREE))
    report = retention.run_cycle()
    assert report.pressure.segments == 0 and report.protected_only
    assert _left(ctx) == {"day01": 5, "or01": 5, "cam01": 3, "cam02": 4}
    assert AlarmKind.storage_protected_full.value in _kinds(ctx)

    # Space comes back: the alarms clear.
    Retention(ctx, free_bytes=lambda: 10 * MIN_FREE).run_cycle()
    assert not _kinds(ctx) & {
        AlarmKind.storage_protected_full.value,
        AlarmKind.storage_pressure.value,
        AlarmKind.storage_low.value,
    }
