"""Each kind of tampering, done directly in the database file or server, is detected."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import LedgerTampered, ValidationFailed
from appliance.ledger import EventType, NewEntry, SignedHead, canonical_data, entry_hash
from tests.support.ledger import Backend


def _fill(backend: Backend, n: int = 20) -> None:
    backend.ledger.append_many(
        NewEntry(
            EventType.view_recorded_start,
            actor=f"user{i % 3}",
            data={"purpose": "분실물 확인", "cameras": ["cam01"], "i": i},
            camera_id="cam01",
            ref=f"s{i}",
        )
        for i in range(1, n + 1)
    )


def _bad_seq(backend: Backend, head: SignedHead | None = None) -> int | None:
    report = backend.ledger.verify(head)
    assert not report.ok, "tampering went unnoticed"
    with pytest.raises(LedgerTampered, match="ledger TAMPERED: first bad entry"):
        report.raise_if_bad()
    return report.first_bad_seq


def test_untouched_ledger_verifies(backend: Backend) -> None:
    _fill(backend)
    head = backend.ledger.sign_head()
    _fill(backend, 5)
    report = backend.ledger.verify(head)
    assert report.ok, report.summary()
    assert report.entries_checked == 25 and report.last_seq == 25
    assert report.heads_checked == 2  # the stored copy and the exported one
    assert report.last_hash_hex == backend.ledger.tip().hash_hex


def test_empty_ledger_verifies(backend: Backend) -> None:
    report = backend.ledger.verify(backend.ledger.sign_head())
    assert report.ok and report.last_seq == 0


def test_edited_field_is_detected(backend: Backend) -> None:
    _fill(backend)
    backend.execute("UPDATE ledger_entry SET data = replace(data, '분실물', '기타') WHERE seq = 7")
    assert _bad_seq(backend) == 7


def test_edited_actor_time_and_camera_are_detected(backend: Backend) -> None:
    _fill(backend)
    backend.execute("UPDATE ledger_entry SET ts_ms = ts_ms + 1 WHERE seq = 3")
    assert _bad_seq(backend) == 3
    backend.execute("UPDATE ledger_entry SET ts_ms = ts_ms - 1 WHERE seq = 3")
    assert backend.ledger.verify().ok
    backend.execute("UPDATE ledger_entry SET camera_id = 'cam02' WHERE seq = 12")
    assert _bad_seq(backend) == 12


def test_deleted_row_is_detected(backend: Backend) -> None:
    _fill(backend)
    backend.execute("DELETE FROM ledger_entry WHERE seq = 9")
    assert _bad_seq(backend) == 9


def test_inserted_row_is_detected(backend: Backend) -> None:
    _fill(backend)
    # Make room at seq 10 and insert a forged entry whose hash is even computed correctly.
    backend.execute("UPDATE ledger_entry SET seq = seq + 1000000 WHERE seq >= 10")
    backend.execute("UPDATE ledger_entry SET seq = seq - 999999 WHERE seq >= 1000000")
    prev = bytes(backend.execute("SELECT hash FROM ledger_entry WHERE seq = 9")[0][0])
    data = canonical_data({"purpose": "forged"})
    digest = entry_hash(prev, 10, 1, "logout", "mallory", None, None, data)
    backend.execute(
        "INSERT INTO ledger_entry (seq, ts_ms, event, actor, camera_id, ref, data, hash) "
        "VALUES (10, 1, 'logout', 'mallory', NULL, NULL, ?, ?)",
        data,
        digest,
    )
    # The forgery itself chains; the entry it pushed along no longer does.
    assert _bad_seq(backend) == 11


def test_inserted_row_with_a_made_up_hash_is_detected(backend: Backend) -> None:
    _fill(backend)
    backend.execute(
        "INSERT INTO ledger_entry (seq, ts_ms, event, actor, camera_id, ref, data, hash) "
        "VALUES (21, 1, 'logout', 'mallory', NULL, NULL, '{}', ?)",
        b"\0" * 32,
    )
    assert _bad_seq(backend) == 21


def test_swapped_rows_are_detected(backend: Backend) -> None:
    _fill(backend)
    backend.execute("UPDATE ledger_entry SET seq = -1 WHERE seq = 5")
    backend.execute("UPDATE ledger_entry SET seq = 5 WHERE seq = 6")
    backend.execute("UPDATE ledger_entry SET seq = 6 WHERE seq = -1")
    assert _bad_seq(backend) == 5


def test_dropped_tail_is_detected(backend: Backend) -> None:
    _fill(backend)
    backend.execute("DELETE FROM ledger_entry WHERE seq > 15")
    bad = _bad_seq(backend)
    assert bad == 16


def test_truncation_after_an_exported_head(backend: Backend, tmp_path: Path) -> None:
    _fill(backend)
    exported = tmp_path / "head.json"
    exported.write_text(backend.ledger.sign_head().to_json())
    _fill(backend, 5)
    # A careful attacker: drops the tail, moves the tip back, removes the stored heads.
    backend.execute("DELETE FROM ledger_entry WHERE seq > 12")
    tip_hash = backend.execute("SELECT hash FROM ledger_entry WHERE seq = 12")[0][0]
    backend.execute("UPDATE ledger_tip SET seq = 12, hash = ? WHERE id = 1", tip_hash)
    backend.execute("DELETE FROM ledger_signed_head")
    assert backend.ledger.verify().ok  # nothing inside the database shows it any more ...
    head = SignedHead.read(exported)
    assert _bad_seq(backend, head) == 13  # ... the exported head does


def test_rewritten_chain_is_caught_by_a_signed_head(backend: Backend) -> None:
    _fill(backend)
    head = backend.ledger.sign_head()
    # Edit entry 4 and recompute every later hash and the tip: the chain is consistent again.
    backend.execute("UPDATE ledger_entry SET actor = 'nobody' WHERE seq = 4")
    rows = backend.execute(
        "SELECT seq, ts_ms, event, actor, camera_id, ref, data FROM ledger_entry ORDER BY seq"
    )
    prev = bytes(backend.execute("SELECT hash FROM ledger_entry WHERE seq = 3")[0][0])
    for seq, ts_ms, event, actor, camera_id, ref, data in rows[3:]:
        prev = entry_hash(prev, seq, ts_ms, event, actor, camera_id, ref, data)
        backend.execute("UPDATE ledger_entry SET hash = ? WHERE seq = ?", prev, seq)
    backend.execute("UPDATE ledger_tip SET hash = ? WHERE id = 1", prev)
    assert _bad_seq(backend) == head.seq  # the stored signed head
    backend.execute("DELETE FROM ledger_signed_head")
    assert _bad_seq(backend, head) == head.seq  # the exported copy
    # ... and the 32 hex digits the paper ledger keeps of it.
    paper = [(head.seq, head.hash_hex[:32])]
    report = backend.ledger.verify(paper=paper)
    assert not report.ok and report.first_bad_seq == head.seq
    assert "paper record" in (report.problem or "")


def test_paper_records_match_an_untouched_ledger(backend: Backend) -> None:
    _fill(backend)
    head = backend.ledger.sign_head()
    printed = head.to_text(backend.ledger.zone)
    hash_line = next(line for line in printed.splitlines() if line.startswith("hash"))
    prefix = hash_line.removeprefix("hash").strip()  # "90306db9 f95ec7ae ..." as printed
    _fill(backend, 3)
    report = backend.ledger.verify(paper=[(head.seq, prefix)])
    assert report.ok and report.heads_checked == 2  # the stored head and the paper record
    with pytest.raises(ValidationFailed, match="at least 16 hex digits"):
        backend.ledger.verify(paper=[(head.seq, "abcd")])  # too short to mean anything


def test_forged_heads_are_refused(backend: Backend) -> None:
    _fill(backend)
    head = backend.ledger.sign_head()
    forged = SignedHead.from_json(head.to_json().replace(f'"seq": {head.seq}', '"seq": 30'))
    assert _bad_seq(backend, forged) == 30
    backend.execute("UPDATE ledger_signed_head SET seq = 19")
    assert _bad_seq(backend) == 19


def test_missing_tip_row_is_reported(backend: Backend) -> None:
    _fill(backend, 3)
    backend.execute("DELETE FROM ledger_tip")
    report = backend.ledger.verify()
    assert not report.ok and "tip" in (report.problem or "")
