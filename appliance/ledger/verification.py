"""``Ledger.verify`` on the database: one read-only snapshot, the tip, stored and given heads.

``appliance.ledger.verify`` holds the pure walk over rows; this module reads those rows in one
snapshot (raw DB-API cursors, batches of tuples: no ORM objects at 200,000 entries/s) and
checks what surrounds the chain: signatures, the retention checkpoint, heads and paper records,
and the recorded tip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from appliance.db import Database
from appliance.errors import LedgerUnavailable, ValidationFailed
from appliance.ledger.chain import GENESIS
from appliance.ledger.heads import HeadKind, SignedHead
from appliance.ledger.rows import head_from_tuple
from appliance.ledger.verify import ChainWalk, VerifyReport, walk_chain

__all__ = ["snapshot", "stream_entries", "verify_ledger"]

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


def verify_ledger(
    db: Database,
    verify_key: bytes,
    head: SignedHead | None = None,
    *,
    heads: Sequence[SignedHead] = (),
    paper: Sequence[tuple[int, str]] = (),
) -> VerifyReport:
    """``Ledger.verify``: the chain, the tip and stored heads, plus the given heads and paper."""
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
            "FROM ledger_signed_head ORDER BY seq, id"
        )
        stored = [(r[0], head_from_tuple(r[1:])) for r in cur.fetchall()]
        cur.close()

        def bad(seq: int | None, problem: str, walk: ChainWalk | None = None) -> VerifyReport:
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
            )

        start_seq, start_hash = 0, GENESIS
        for head_id, signed in stored:
            if not signed.check_signature(verify_key):
                return bad(
                    signed.seq,
                    f"stored {signed.kind} #{head_id} (seq {signed.seq}) has a bad signature",
                )
            if signed.kind == HeadKind.checkpoint and signed.seq >= start_seq:
                start_seq, start_hash = signed.seq, bytes.fromhex(signed.hash_hex)
        for exported in given:
            if not exported.check_signature(verify_key):
                return bad(
                    exported.seq,
                    f"the given head at seq {exported.seq} is not signed by this appliance's key",
                )
        if tip_row is None:
            return bad(None, "the ledger tip row is missing")
        tip_seq, tip_hash = int(tip_row[0]), bytes(tip_row[1])

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
            stream_entries(db, raw, param, start_seq, None), start_seq, start_hash, anchors
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
    return VerifyReport(
        ok=True,
        entries_checked=walk.count,
        start_seq=start_seq,
        last_seq=walk.last_seq,
        last_hash_hex=walk.last_hash.hex(),
        heads_checked=walk.anchors_matched,
        notes=tuple(notes),
    )
