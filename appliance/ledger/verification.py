"""``Ledger.verify`` on the database: one read-only snapshot, the tip, stored and given heads.

``appliance.ledger.verify`` holds the pure walk over rows and ``appliance.ledger.continuity``
the checks of the chain of heads; this module reads the rows in one snapshot (raw DB-API
cursors, batches of tuples: no ORM objects at 200,000 entries/s) and checks what surrounds the
chain: the pinned key, signatures, the retention checkpoint, the chain of heads, heads and
paper records, the heads file, the recorded tip and, when asked, continuity in time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from appliance.db import Database
from appliance.errors import LedgerUnavailable, ValidationFailed
from appliance.ledger.chain import GENESIS
from appliance.ledger.continuity import WATCH, Continuity, check_continuity, head_chain
from appliance.ledger.heads import HeadKind, SignedHead, fingerprint_text, key_fingerprint
from appliance.ledger.rows import head_from_tuple
from appliance.ledger.verify import ChainWalk, Failure, VerifyReport, walk_chain

__all__ = ["check_fingerprint", "snapshot", "stream_entries", "verify_ledger"]

_FETCH_ROWS = 20_000
_COLUMNS = "seq, ts_ms, event, actor, camera_id, ref, data, hash"


@contextmanager
def snapshot(db: Database) -> Iterator[tuple[Any, str]]:
    """A raw DB-API connection inside one read-only snapshot, and its parameter marker.

    One snapshot so that appends running meanwhile do not look like entries beyond the tip.
    """
    driver_error: type[Exception] = db.engine.dialect.dbapi.Error  # type: ignore[union-attr]
    try:
        raw = db.engine.raw_connection()
    except SQLAlchemyError as exc:
        raise LedgerUnavailable(f"ledger read failed: {exc}") from exc
    driver: Any = raw.driver_connection
    try:
        if db.is_sqlite:
            driver.execute("BEGIN")
            yield driver, "?"
        else:
            driver.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield driver, "%s"
    except driver_error as exc:
        raise LedgerUnavailable(f"ledger read failed: {exc}") from exc
    finally:
        with suppress(driver_error):
            driver.rollback()
        raw.close()


def stream_entries(
    db: Database, driver: Any, param: str, after_seq: int, upto_seq: int | None
) -> Iterator[list[tuple[Any, ...]]]:
    """Entries after ``after_seq`` (up to ``upto_seq``) in seq order, in batches of tuples."""
    sql = f"SELECT {_COLUMNS} FROM ledger_entry WHERE seq > {param}"  # noqa: S608
    args: tuple[int, ...] = (after_seq,)
    if upto_seq is not None:
        sql += f" AND seq <= {param}"
        args += (upto_seq,)
    sql += " ORDER BY seq"
    # On PostgreSQL server-side, so rows arrive in batches; binary, so bytea needs no hex decoding.
    cur = driver.cursor() if db.is_sqlite else driver.cursor(name="ledger_walk", binary=True)
    try:
        cur.execute(sql, args)
        while batch := cur.fetchmany(_FETCH_ROWS):
            yield batch
    finally:
        cur.close()


def check_fingerprint(verify_key: bytes, pinned: str) -> bool:
    """True when ``pinned`` (32+ hex digits; spaces and colons ignored) starts the fingerprint.

    ValidationFailed when ``pinned`` is too short to pin anything.
    """
    text = pinned.replace(" ", "").replace(":", "").lower()
    if len(text) < 32 or any(c not in "0123456789abcdef" for c in text):
        raise ValidationFailed("a key fingerprint needs at least 32 hex digits")
    return key_fingerprint(verify_key).startswith(text)


def verify_ledger(
    db: Database,
    verify_key: bytes,
    head: SignedHead | None = None,
    *,
    heads: Sequence[SignedHead] = (),
    paper: Sequence[tuple[int, str]] = (),
    heads_file: Sequence[tuple[int, SignedHead]] | None = None,
    continuity: Continuity | None = None,
    pinned_key: str | None = None,
) -> VerifyReport:
    """``Ledger.verify``: the chain, the tip and stored heads, plus the given heads and paper,
    the lines of a heads file (line number, head), continuity, and the pinned key."""
    if pinned_key is not None and not check_fingerprint(verify_key, pinned_key):
        return VerifyReport(
            ok=False,
            entries_checked=0,
            start_seq=0,
            last_seq=0,
            last_hash_hex=GENESIS.hex(),
            heads_checked=0,
            problem=f"the verify key in the key dir (fingerprint {fingerprint_text(verify_key)}) "
            "is not the pinned one: the key dir was replaced",
            failure=Failure.key,
        )
    given = ([head] if head is not None else []) + list(heads)
    records: list[tuple[int, bytes]] = []
    for seq, prefix in paper:
        text = prefix.replace(" ", "").lower()
        try:
            want = bytes.fromhex(text)
        except ValueError:
            want = b""
        if len(text) < 16 or len(want) * 2 != len(text):
            raise ValidationFailed(f"paper record {seq}: give at least 16 hex digits")
        records.append((seq, want))
    notes: list[str] = []
    with snapshot(db) as (raw, param):
        cur = raw.cursor()
        cur.execute("SELECT seq, hash FROM ledger_tip WHERE id = 1")
        tip_row = cur.fetchone()
        cur.execute(
            "SELECT id, kind, seq, hash, signed_ms, key_id, signature "
            ", prev_hash FROM ledger_signed_head ORDER BY id"
        )
        stored = [(r[0], head_from_tuple(r[1:])) for r in cur.fetchall()]
        cur.close()

        def bad(
            seq: int | None,
            problem: str,
            walk: ChainWalk | None = None,
            failure: Failure = Failure.chain,
        ) -> VerifyReport:
            return VerifyReport(
                ok=False,
                entries_checked=walk.count if walk else 0,
                start_seq=start_seq,
                last_seq=walk.last_seq if walk else start_seq,
                last_hash_hex=(walk.last_hash if walk else start_hash).hex(),
                heads_checked=0,
                first_bad_seq=seq,
                problem=problem,
                notes=tuple(notes),
                failure=failure,
            )

        start_seq, start_hash, checkpoint_id = 0, GENESIS, None
        for head_id, signed in stored:
            if not signed.check_signature(verify_key):
                return bad(
                    signed.seq,
                    f"stored {signed.kind} #{head_id} (seq {signed.seq}) has a bad signature",
                    failure=Failure.signature,
                )
            if signed.kind == HeadKind.checkpoint and signed.seq >= start_seq:
                start_seq, start_hash = signed.seq, bytes.fromhex(signed.hash_hex)
                checkpoint_id = head_id
        for exported in given:
            if not exported.check_signature(verify_key):
                return bad(
                    exported.seq,
                    f"the given head at seq {exported.seq} is not signed by this appliance's key",
                    failure=Failure.signature,
                )
        if tip_row is None:
            return bad(None, "the ledger tip row is missing")
        tip_seq, tip_hash = int(tip_row[0]), bytes(tip_row[1])
        chain, broken = head_chain(stored, checkpoint_id, start_seq)
        if broken is not None:
            return bad(broken.seq, broken.text, failure=broken.failure)
        if heads_file is not None:
            problem = _cross_check(stored, heads_file, verify_key, start_seq, notes)
            if problem is not None:
                return bad(None, problem, failure=Failure.heads_file)

        anchors: dict[int, list[tuple[str, bytes]]] = {}
        checks = [
            (f"signed {s.kind} #{i}", s.seq, bytes.fromhex(s.hash_hex))
            for i, s in stored
            if s.kind == HeadKind.head
        ]
        checks += [
            (f"the exported head signed at {s.signed_ms}", s.seq, bytes.fromhex(s.hash_hex))
            for s in given
        ]
        checks += [(f"the paper record of seq {seq}", seq, want) for seq, want in records]
        for label, seq, want in checks:
            if seq > start_seq:
                anchors.setdefault(seq, []).append((label, want))
            elif seq == start_seq and start_hash[: len(want)] != want:
                return bad(seq, f"the retention checkpoint does not match {label}")
            elif seq < start_seq:
                notes.append(f"{label} (seq {seq}) predates the retention cut")

        walk = walk_chain(
            stream_entries(db, raw, param, start_seq, None), start_seq, start_hash, anchors, WATCH
        )
    if walk.problem is not None:
        return bad(walk.first_bad_seq, walk.problem, walk)
    beyond = [seq for seq in anchors if seq > walk.last_seq]
    if beyond:
        label, _ = anchors[min(beyond)][0]
        return bad(
            walk.last_seq + 1,
            f"entries after {walk.last_seq} are missing: {label} covers seq {max(beyond)}",
            walk,
        )
    if walk.last_seq < tip_seq:
        return bad(
            walk.last_seq + 1,
            f"entries {walk.last_seq + 1}..{tip_seq} are missing (the tail was cut)",
            walk,
        )
    if walk.last_seq > tip_seq:
        return bad(
            tip_seq + 1,
            f"entries after the recorded tip {tip_seq} were added outside the ledger",
            walk,
        )
    if walk.last_hash != tip_hash:
        return bad(tip_seq, "the recorded tip does not match the chain", walk)
    if continuity is not None:
        gap, explained = check_continuity(chain, walk.watched, continuity, start_seq)
        notes.extend(explained)
        if gap is not None:
            return bad(gap.seq, gap.text, walk, gap.failure)
    return VerifyReport(
        ok=True,
        entries_checked=walk.count,
        start_seq=start_seq,
        last_seq=walk.last_seq,
        last_hash_hex=walk.last_hash.hex(),
        heads_checked=walk.anchors_matched,
        notes=tuple(notes),
    )


def _cross_check(
    stored: Sequence[tuple[int, SignedHead]],
    lines: Sequence[tuple[int, SignedHead]],
    verify_key: bytes,
    start_seq: int,
    notes: list[str],
) -> str | None:
    """The first head of the heads file that the database lacks or holds differently."""
    by_signature = {head.signature_hex: head for _, head in stored}
    by_time = {(head.kind, head.signed_ms): head for _, head in stored}
    cut = 0
    for number, head in lines:
        if not head.check_signature(verify_key):
            return f"line {number} of the heads file is not signed by this appliance's key"
        if head.signature_hex in by_signature:
            continue
        if head.kind == HeadKind.head and head.seq < start_seq:
            cut += 1  # removed by a retention cut, as it should be
            continue
        where = f"the {head.kind} of line {number} of the heads file (seq {head.seq})"
        if (head.kind, head.signed_ms) in by_time:
            return f"{where} differs from the one stored in the database"
        return f"{where} is missing from the database: heads were deleted"
    if cut:
        notes.append(f"{cut} heads of the heads file predate the retention cut")
    in_file = {head.signature_hex for _, head in lines}
    absent = sum(1 for _, head in stored if head.signature_hex not in in_file)
    if absent:
        notes.append(
            f"{absent} stored heads are not in the heads file (signed before it was set up, "
            "or by a process whose file write failed)"
        )
    return None
