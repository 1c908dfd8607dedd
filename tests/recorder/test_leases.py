"""Camera leases and the fence (issue 19): one winner per camera, and a node that lost its
lease cannot index a segment of it, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.models.media import PendingSegment, Segment
from appliance.models.nodes import CameraLease
from appliance.nodes import How, acquire, check_fence, ensure_leases, release, renew
from appliance.nodes.assignment import desired_owners
from recorder.indexer import SegmentIndexer
from tests.support.config import SettingsFactory
from tests.support.media import START_MS, Clip
from tests.support.nodes import finished_segment, leases

TTL_MS = 15_000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_ctx(
    request: pytest.FixtureRequest, make_settings: SettingsFactory, clock: FakeClock
) -> Iterator[AppContext]:
    overrides = {}
    if request.param == "postgres":
        overrides["database"] = {"url": request.getfixturevalue("pg_url")}
    settings = make_settings(**overrides)
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    yield ctx
    ctx.close()


def _expire(ctx: AppContext, camera_id: str) -> None:
    """What the database clock does to a lease its holder stopped renewing."""
    with ctx.db.session() as session:
        session.execute(
            update(CameraLease).where(col(CameraLease.camera_id) == camera_id).values(expires_ms=1)
        )


def test_one_holder_takeover_and_the_fence(any_db_ctx: AppContext, h264_clip: Clip) -> None:
    ctx = any_db_ctx
    with ctx.db.session() as session:
        ensure_leases(session, ["cam01", "cam02"])
        ensure_leases(session, ["cam01"])  # a second node's start: no duplicate, no error
        first = acquire(session, "cam01", "rec-a", TTL_MS)
    assert first is not None and (first.epoch, first.how, first.previous) == (1, How.new, None)
    with ctx.db.session() as session:
        assert acquire(session, "cam01", "rec-b", TTL_MS) is None  # held and not expired
        assert renew(session, "rec-a", {"cam01": 1}, TTL_MS) == set()

    # rec-a stops beating: its lease expires on the database clock and rec-b takes it.
    _expire(ctx, "cam01")
    with ctx.db.session() as session:
        second = acquire(session, "cam01", "rec-b", TTL_MS)
    assert second is not None and (second.epoch, second.how, second.previous) == (
        2,
        How.takeover,
        "rec-a",
    )
    assert leases(ctx)["cam01"][:2] == ("rec-b", 2)
    with ctx.db.session() as session:
        assert renew(session, "rec-a", {"cam01": 1}, TTL_MS) == {"cam01"}  # rec-a learns

    # rec-a, stale, finishes a segment it recorded under epoch 1: the fence refuses it, and
    # its file and sealed key go, so no later reconcile can index it either.
    stale_indexer = SegmentIndexer(ctx.db, ctx.clock, node_id="rec-a")
    stale = finished_segment(ctx, h264_clip, "cam01", START_MS, epoch=1)
    with pytest.raises(Exception, match="lease epoch 1 of rec-a is gone"):
        stale_indexer.index(stale)
    assert not stale.final_path.exists() and not stale.temp_path.exists()
    with ctx.db.session() as session:
        assert session.exec(select(PendingSegment)).all() == []
        assert session.exec(select(Segment)).all() == []

    # rec-b, the holder at epoch 2, indexes its own.
    fresh = finished_segment(ctx, h264_clip, "cam01", START_MS + 5_000, epoch=2)
    row = SegmentIndexer(ctx.db, ctx.clock, node_id="rec-b").index(fresh)
    assert row.id is not None and fresh.final_path.exists()

    # A clean handover: released (holder kept, expiry 0), then the next node takes it.
    with ctx.db.session() as session:
        assert release(session, "cam01", "rec-b", 2)
        assert not release(session, "cam01", "rec-a", 2)  # not rec-a's to release
        check_fence(session, "cam01", "rec-b", 2)  # released, nobody took it: still exclusive
        third = acquire(session, "cam01", "rec-a", TTL_MS)
    assert third is not None and (third.epoch, third.how, third.previous) == (
        3,
        How.handover,
        "rec-b",
    )


def test_assignment_configured_then_balanced() -> None:
    preferred = {f"cam{i:02}": "" for i in range(1, 41)} | {"cam01": "rec-a", "cam02": "rec-c"}
    both = desired_owners(preferred, ["rec-a", "rec-b"])
    assert both["cam01"] == "rec-a"
    counts = {n: list(both.values()).count(n) for n in ("rec-a", "rec-b")}
    assert min(counts.values()) >= 12  # balanced (40 cameras, rendezvous hashing)
    # rec-a dies: only its cameras move; rec-b's stay where they are.
    alone = desired_owners(preferred, ["rec-b"])
    assert set(alone.values()) == {"rec-b"}
    # rec-c (cam02's configured node) joins: cam02 goes to it; of the others, only those rec-c
    # wins move (about a third), never between rec-a and rec-b.
    three = desired_owners(preferred, ["rec-a", "rec-b", "rec-c"])
    assert three["cam02"] == "rec-c"
    moved = [c for c in preferred if three[c] != both[c]]
    assert all(three[c] == "rec-c" for c in moved) and 5 <= len(moved) <= 22
    assert desired_owners(preferred, []) == {}
