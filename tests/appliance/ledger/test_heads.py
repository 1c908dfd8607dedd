"""Signed heads can no longer be deleted unseen (issue 13, finding 6).

Each head names the one before it (a head deleted from the middle breaks that chain), the
daemon signs a heartbeat head every interval (a gap or a stale latest head is reported), each
head is also appended to a heads file and sent to syslog (outside the database), and verify can
pin the verify key's fingerprint.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.keys import load_signing_key
from appliance.ledger import EventType, HeadKind, Ledger, NewEntry, SignedHead, entry_hash
from appliance.ledger.daemon import LedgerDaemon
from appliance.ledger.heads import key_fingerprint, signed_message
from appliance.ledger.verify import Failure
from appliance.ledger.witness import read_heads_file
from tests.support.config import SettingsFactory
from tests.support.ledger import Backend

INTERVAL_S = 60


def _fill(backend: Backend, n: int = 5) -> None:
    backend.ledger.append_many(
        NewEntry(EventType.logout, actor=f"user{i}", data={"i": i}) for i in range(n)
    )


def _rewrite_from(backend: Backend, seq: int) -> None:
    """Edit entry ``seq`` and recompute every later hash and the tip: a consistent chain."""
    backend.execute("UPDATE ledger_entry SET actor = 'nobody' WHERE seq = ?", seq)
    rows = backend.execute(
        "SELECT seq, ts_ms, event, actor, camera_id, ref, data FROM ledger_entry "
        "WHERE seq >= ? ORDER BY seq",
        seq,
    )
    prev = bytes(backend.execute("SELECT hash FROM ledger_entry WHERE seq = ?", seq - 1)[0][0])
    for row_seq, ts_ms, event, actor, camera_id, ref, data in rows:
        prev = entry_hash(prev, row_seq, ts_ms, event, actor, camera_id, ref, data)
        backend.execute("UPDATE ledger_entry SET hash = ? WHERE seq = ?", prev, row_seq)
    backend.execute("UPDATE ledger_tip SET hash = ? WHERE id = 1", prev)


def _run(backend: Backend, clock: FakeClock, rounds: int) -> LedgerDaemon:
    """``appliance run`` for ``rounds`` intervals: a start entry, a head each round."""
    backend.ledger.head_interval_s = INTERVAL_S
    daemon = LedgerDaemon(backend.ledger, clock, head_interval_s=INTERVAL_S)
    backend.ledger.append(EventType.system_start, actor="system", data={"pid": 1})
    daemon.tick()
    for _ in range(rounds):
        _fill(backend, 2)
        clock.advance(timedelta(seconds=INTERVAL_S))
        daemon.tick()
    return daemon


def _heads_file(backend: Backend) -> Path:
    key_dir = backend.ledger._key_dir
    assert key_dir is not None
    return key_dir / "heads.log"


def test_each_head_names_the_one_before(backend: Backend) -> None:
    first = backend.ledger.sign_head()
    _fill(backend)
    second = backend.ledger.sign_head()
    assert first.prev_hex == "00" * 32 and second.prev_hex is not None
    assert SignedHead.from_json(second.to_json()) == second  # format 2 round trip
    assert backend.ledger.verify().ok


def test_a_head_deleted_in_the_middle_is_detected(backend: Backend) -> None:
    for _ in range(4):
        _fill(backend)
        backend.ledger.sign_head()
    assert backend.ledger.verify().ok
    middle = backend.execute("SELECT id FROM ledger_signed_head ORDER BY id")[1][0]
    backend.execute("DELETE FROM ledger_signed_head WHERE id = ?", middle)
    report = backend.ledger.verify()
    assert not report.ok and report.failure is Failure.head_chain, report.summary()
    assert "was deleted" in (report.problem or "") and "[head_chain]" in report.summary()


def test_old_format_heads_still_verify_and_the_chain_goes_on_from_them(
    backend: Backend,
) -> None:
    _fill(backend)
    key_dir = backend.ledger._key_dir
    assert key_dir is not None
    key = load_signing_key(key_dir)
    tip = backend.ledger.tip()
    old = key.sign(signed_message(HeadKind.head, tip.seq, tip.hash_hex, 1)).signature
    backend.execute(
        "INSERT INTO ledger_signed_head (kind, seq, hash, signed_ms, key_id, signature) "
        "VALUES ('head', ?, ?, 1, ?, ?)",
        tip.seq,
        bytes.fromhex(tip.hash_hex),
        bytes(key.verify_key).hex()[:16],
        old,
    )
    assert backend.ledger.heads()[0].prev_hex is None  # read back as format 1
    _fill(backend)
    backend.ledger.sign_head()
    assert backend.ledger.verify().ok
    backend.execute("UPDATE ledger_signed_head SET signed_ms = 2 WHERE prev_hash IS NULL")
    report = backend.ledger.verify()
    assert not report.ok and report.failure is Failure.signature


def test_dropping_every_head_and_rewriting_the_chain_fails(
    backend: Backend, clock: FakeClock
) -> None:
    _run(backend, clock, 5)
    assert backend.ledger.verify(continuity=True, heads_file=_heads_file(backend)).ok
    backend.execute("DELETE FROM ledger_signed_head")
    _rewrite_from(backend, 3)
    assert backend.ledger.verify().ok  # nothing in the entries themselves shows it ...
    report = backend.ledger.verify(continuity=True)  # ... but no head covers a run
    assert not report.ok and report.failure in (Failure.continuity, Failure.unsigned)
    report = backend.ledger.verify(heads_file=_heads_file(backend))  # ... nor the heads file
    assert not report.ok and report.failure is Failure.heads_file
    assert "missing from the database" in (report.problem or "")


def test_dropping_the_latest_heads_shows_as_a_gap_or_a_broken_chain(
    backend: Backend, clock: FakeClock
) -> None:
    _run(backend, clock, 6)
    kept = backend.execute("SELECT id FROM ledger_signed_head ORDER BY id")[2][0]
    backend.execute("DELETE FROM ledger_signed_head WHERE id > ?", kept)
    _rewrite_from(backend, 8)
    # Right now, the latest head left is minutes old and nothing explains it.
    report = backend.ledger.verify(continuity=True)
    assert not report.ok and report.failure is Failure.continuity, report.summary()
    assert "min old" in (report.problem or "")

    # A signer in a fresh process chains onto the last head left: the gap shows.
    fresh = Ledger(backend.db, clock, key_dir=backend.ledger._key_dir, head_interval_s=INTERVAL_S)
    fresh.sign_head()
    report = fresh.verify(continuity=True)
    assert not report.ok and report.failure is Failure.continuity, report.summary()
    assert "no restart between" in (report.problem or "")

    # The process that signed the deleted heads chains onto the last one it signed.
    backend.ledger.sign_head()
    report = backend.ledger.verify()
    assert not report.ok and report.failure is Failure.head_chain, report.summary()


def test_continuity_notes_a_restart_and_names_a_locked_vault(
    ctx: AppContext, clock: FakeClock
) -> None:
    backend = Backend("sqlite", ctx.db, ctx.ledger)
    daemon = _run(backend, clock, 3)
    assert ctx.ledger.verify(continuity=True).ok
    daemon.stop()  # system_stop and a last head
    clock.advance(timedelta(hours=5))  # the appliance is off for five hours
    ctx.ledger.append(EventType.system_start, actor="system", data={"pid": 2})
    # Restarted, vault still locked: nothing signed yet. Not tampering, but not vouched for.
    report = ctx.ledger.verify(continuity=True)
    assert not report.ok and report.failure is Failure.unsigned, report.summary()
    assert "NOT SIGNED since a restart" in report.summary() and "unlock" in report.summary()
    # The unlock comes: the first head covers the downtime, which is only noted.
    ctx.ledger.sign_head()
    report = ctx.ledger.verify(continuity=True)
    assert report.ok, report.summary()
    assert any("restarted" in note for note in report.notes)
    # But an unlock followed by silence is a stopped (or stripped) signer.
    ctx.ledger.append(EventType.vault_unlocked, actor="kim")
    clock.advance(timedelta(minutes=30))
    report = ctx.ledger.verify(continuity=True)
    assert not report.ok and report.failure is Failure.continuity


def test_heartbeat_heads_keep_an_idle_ledger_continuous(ctx: AppContext, clock: FakeClock) -> None:
    daemon = LedgerDaemon(ctx.ledger, clock, head_interval_s=INTERVAL_S)
    ctx.ledger.head_interval_s = INTERVAL_S
    ctx.ledger.append(EventType.system_start, actor="system")
    daemon.tick()
    for _ in range(10):  # nothing happens for ten minutes: heads go on
        clock.advance(timedelta(seconds=INTERVAL_S))
        assert daemon.tick() is not None
    assert ctx.ledger.verify(continuity=True).ok
    clock.advance(timedelta(seconds=4 * INTERVAL_S))  # the signer stopped, or was stripped
    report = ctx.ledger.verify(continuity=True)
    assert not report.ok and report.failure is Failure.continuity


@pytest.fixture
def syslog(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A syslog receiver: a unix datagram socket, as /dev/log is."""
    path = tmp_path / "log"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(5)
    try:
        yield str(path), server
    finally:
        server.close()


def test_heads_file_and_syslog_receive_each_head(
    make_settings: SettingsFactory,
    clock: FakeClock,
    tmp_path: Path,
    syslog: tuple[str, socket.socket],
) -> None:
    address, receiver = syslog
    heads_file = tmp_path / "witness" / "heads.log"
    settings = make_settings(
        ledger={"heads_file": str(heads_file), "syslog_socket": address, "retention_days": 365}
    )
    initialize(settings, clock, insecure_no_passphrase=True)
    context = AppContext.open(settings, clock)
    try:
        ledger = context.ledger
        ledger.append(EventType.logout, actor="kim")
        first = ledger.sign_head()
        ledger.append(EventType.logout, actor="lee")
        second = ledger.sign_head()
        clock.advance(timedelta(days=400))
        ledger.append(EventType.logout, actor="park")
        cut = ledger.cut()
        assert cut is not None
        lines = [head for _, head in read_heads_file(heads_file)]
        assert lines == [first, second, cut.checkpoint]
        assert heads_file.read_text().count("\n") == 3
        messages = [receiver.recv(65536).decode() for _ in range(3)]
        for message, head in zip(messages, lines, strict=True):
            assert message.startswith("<86>appliance-ledger-head: ")  # authpriv.info
            body = message.removeprefix("<86>appliance-ledger-head: ").rstrip("\x00")
            assert json.loads(body) == head.to_dict()
        assert ledger.verify(heads_file=heads_file).ok
    finally:
        context.close()


def test_heads_file_lines_must_be_signed_by_the_key(backend: Backend) -> None:
    _fill(backend)
    backend.ledger.sign_head()
    forged = SigningKey.generate()
    line = SignedHead.from_json(_heads_file(backend).read_text().splitlines()[0])
    other = forged.sign(line.message()).signature.hex()
    _heads_file(backend).write_text(
        json.dumps({**line.to_dict(), "signature": other}) + "\n", encoding="utf-8"
    )
    backend.execute("DELETE FROM ledger_signed_head")
    report = backend.ledger.verify(heads_file=_heads_file(backend))
    assert not report.ok and report.failure is Failure.heads_file
    assert "not signed by this appliance's key" in (report.problem or "")


def test_a_pinned_key_fingerprint_must_match(backend: Backend) -> None:
    _fill(backend)
    backend.ledger.sign_head()
    right = key_fingerprint(backend.ledger.verify_key)
    assert backend.ledger.verify(key_fingerprint=right).ok
    assert backend.ledger.verify(key_fingerprint=right[:32].upper()).ok  # as written down
    wrong = key_fingerprint(bytes(SigningKey.generate().verify_key))
    report = backend.ledger.verify(key_fingerprint=wrong)
    assert not report.ok and report.failure is Failure.key
    assert "not the pinned one" in report.summary()
