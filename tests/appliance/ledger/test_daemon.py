"""The ledger daemon signs heads when the chain moved, at start and stop, and cuts daily."""

from __future__ import annotations

from datetime import timedelta

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType, HeadKind
from appliance.ledger.daemon import LedgerDaemon, create


def test_start_and_stop_are_recorded_and_signed(ctx: AppContext) -> None:
    service = create(ctx)
    service.start()
    assert service.alive()
    ctx.ledger.append(EventType.logout, actor="kim")
    service.stop()
    assert not service.alive()
    events = [e.event for e in ctx.ledger.entries()]
    assert events[0] == EventType.system_start and events[-1] == EventType.system_stop
    latest = ctx.ledger.latest_head()
    assert latest is not None and latest.seq == ctx.ledger.tip().seq  # covers the shutdown
    assert ctx.ledger.verify().ok


def test_tick_signs_only_when_the_chain_moved(ctx: AppContext) -> None:
    service = LedgerDaemon(ctx.ledger, ctx.clock, head_interval_s=60)
    first = service.tick()
    assert first is not None and first.seq == 0
    assert service.tick() is None
    ctx.ledger.append(EventType.logout, actor="kim")
    moved = service.tick()
    assert moved is not None and moved.seq == 1
    assert [h.seq for h in ctx.ledger.heads(HeadKind.head)] == [0, 1]


def test_tick_cuts_old_entries_when_due(ctx: AppContext, clock: FakeClock) -> None:
    service = LedgerDaemon(ctx.ledger, ctx.clock, head_interval_s=60)
    ctx.ledger.append(EventType.logout, actor="kim")
    service.tick()  # the first round's cut finds nothing old
    assert ctx.ledger.heads(HeadKind.checkpoint) == []
    clock.advance(timedelta(days=731))  # wall and monotonic time: the daily cut is due
    ctx.ledger.append(EventType.logout, actor="lee")
    head = service.tick()
    assert [c.seq for c in ctx.ledger.heads(HeadKind.checkpoint)] == [1]
    assert head is not None and head.seq == ctx.ledger.tip().seq  # signed after the cut
    assert ctx.ledger.verify().ok
