"""The ledger's own retention: a cut leaves a signed checkpoint and verification starts there."""

from __future__ import annotations

from datetime import timedelta

import pytest

from appliance.clock import FakeClock
from appliance.errors import LedgerTampered
from appliance.ledger import EventType, HeadKind, NewEntry
from tests.support.ledger import Backend


def _day(backend: Backend, clock: FakeClock, n: int, actor: str) -> None:
    backend.ledger.append_many(NewEntry(EventType.login_success, actor, {"i": i}) for i in range(n))
    clock.advance(timedelta(days=1))


def test_nothing_to_cut_on_a_young_ledger(backend: Backend, clock: FakeClock) -> None:
    _day(backend, clock, 5, "kim")
    assert backend.ledger.cut() is None
    assert backend.ledger.tip().seq == 5


def test_cut_keeps_verification_possible(backend: Backend, clock: FakeClock) -> None:
    ledger = backend.ledger
    assert ledger.retention_days == 730
    _day(backend, clock, 10, "old")  # seq 1-10
    _day(backend, clock, 10, "old")  # seq 11-20
    old_head = ledger.sign_head()
    clock.advance(timedelta(days=728))
    _day(backend, clock, 5, "new")  # seq 21-25, on day 730; the cut runs on day 731
    result = ledger.cut()
    assert result is not None
    # 730 days before now falls between the first and second old day: only day one goes.
    assert result.checkpoint.seq == 10 and result.entries_removed == 10
    assert result.checkpoint.kind == HeadKind.checkpoint
    entries = ledger.entries(limit=None)
    assert entries[0].seq == 11
    assert entries[-1].event == EventType.ledger_checkpoint
    assert entries[-1].data["cut_seq"] == 10 and entries[-1].data["entries_removed"] == 10
    report = ledger.verify(old_head)
    assert report.ok, report.summary()
    assert report.start_seq == 10 and report.entries_checked == 16  # 11..26
    assert report.heads_checked == 2  # the head at seq 20 (stored and given) is above the cut

    clock.advance(timedelta(days=800))
    second = ledger.cut()
    assert second is not None and second.checkpoint.seq == 26  # everything is old now
    assert ledger.verify().ok
    assert ledger.verify(old_head).notes  # that head now predates the cut: noted, not failed
    assert [h.seq for h in ledger.heads(HeadKind.checkpoint)] == [10, 26]


def test_tampering_after_a_cut_is_detected(backend: Backend, clock: FakeClock) -> None:
    _day(backend, clock, 10, "old")
    clock.advance(timedelta(days=731))
    _day(backend, clock, 10, "new")
    result = backend.ledger.cut()
    assert result is not None and result.checkpoint.seq == 10
    backend.execute("UPDATE ledger_entry SET actor = 'x' WHERE seq = 11")
    assert backend.ledger.verify().first_bad_seq == 11
    backend.execute("UPDATE ledger_entry SET actor = 'new' WHERE seq = 11")
    assert backend.ledger.verify().ok
    # Removing the checkpoint makes the cut entries count as deleted.
    backend.execute("DELETE FROM ledger_signed_head WHERE kind = 'checkpoint'")
    assert backend.ledger.verify().first_bad_seq == 1


def test_forged_checkpoint_is_refused(backend: Backend, clock: FakeClock) -> None:
    _day(backend, clock, 10, "old")
    clock.advance(timedelta(days=731))
    _day(backend, clock, 3, "new")
    assert backend.ledger.cut() is not None
    backend.execute("UPDATE ledger_signed_head SET seq = 5 WHERE kind = 'checkpoint'")
    report = backend.ledger.verify()
    assert not report.ok and "signature" in (report.problem or "")


def test_cut_refuses_to_vouch_for_tampered_entries(backend: Backend, clock: FakeClock) -> None:
    _day(backend, clock, 10, "old")
    clock.advance(timedelta(days=731))
    _day(backend, clock, 3, "new")
    backend.execute("UPDATE ledger_entry SET actor = 'x' WHERE seq = 4")
    with pytest.raises(LedgerTampered) as info:
        backend.ledger.cut()
    assert info.value.seq == 4
    assert backend.ledger.heads(HeadKind.checkpoint) == []
    assert backend.ledger.entries(limit=1)[0].seq == 1  # nothing was removed
