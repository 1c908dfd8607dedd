"""``Ledger.cut``: removing entries older than the retention behind a signed checkpoint.

The entries to remove are verified first and the cut is refused (LedgerTampered) if they are
bad, so a checkpoint never vouches for tampered entries. The checkpoint and its
``ledger_checkpoint`` entry are written in one transaction before anything is deleted; a cut
interrupted after that is finished by the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nacl.signing import SigningKey
from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import LedgerTampered, LedgerUnavailable
from appliance.ledger.chain import GENESIS
from appliance.ledger.events import EventType
from appliance.ledger.heads import HeadKind, SignedHead, sign
from appliance.ledger.rows import (
    ENTRY,
    SIGNED,
    NewEntry,
    lock_tip,
    prepare,
    reading,
    signed_row,
    write_entries,
)
from appliance.ledger.verification import snapshot, stream_entries
from appliance.ledger.verify import walk_chain

__all__ = ["CutResult", "cut_ledger"]

_DAY_MS = 86_400_000
_DELETE_BATCH = 50_000


@dataclass(frozen=True)
class CutResult:
    """A retention cut: entries up to ``checkpoint.seq`` removed, verification starts there."""

    checkpoint: SignedHead
    entries_removed: int
    cutoff_ms: int


def cut_ledger(
    db: Database,
    clock: Clock,
    *,
    now_ms: int,
    retention_days: int,
    key: SigningKey,
    verify_key: bytes,
    checkpoints: Iterable[SignedHead],
    prev: Callable[[Connection], str],
) -> CutResult | None:
    """The cut of ``Ledger.cut`` (``checkpoints``: the stored ones; ``prev``: the ``prev`` of a
    head stored now, given the connection holding the tip lock); None if nothing to cut."""
    cutoff_ms = now_ms - retention_days * _DAY_MS
    start_seq, start_hash = 0, GENESIS
    for signed in checkpoints:
        if signed.check_signature(verify_key):
            start_seq, start_hash = signed.seq, bytes.fromhex(signed.hash_hex)
    delete_upto(db, start_seq)  # finishes a cut interrupted after its checkpoint
    with reading(db) as conn:
        first_kept = conn.execute(
            select(func.min(ENTRY.c.seq)).where(ENTRY.c.seq > start_seq, ENTRY.c.ts_ms >= cutoff_ms)
        ).scalar()
        last = conn.execute(select(func.max(ENTRY.c.seq))).scalar()
    cut_seq = int(first_kept) - 1 if first_kept is not None else int(last or 0)
    if cut_seq <= start_seq:
        return None
    with snapshot(db) as (raw, param):
        walk = walk_chain(stream_entries(db, raw, param, start_seq, cut_seq), start_seq, start_hash)
    if walk.problem is not None or walk.last_seq != cut_seq:
        raise LedgerTampered(
            f"refusing to cut: {walk.problem or f'entries up to {cut_seq} are missing'}",
            walk.first_bad_seq,
        )
    try:
        with db.engine.begin() as conn:
            lock_tip(conn)
            stored = conn.execute(select(ENTRY.c.hash).where(ENTRY.c.seq == cut_seq)).scalar()
            if stored is None or bytes(stored) != walk.last_hash:
                raise LedgerTampered(f"entry {cut_seq} changed during the cut", cut_seq)
            checkpoint = sign(key, HeadKind.checkpoint, cut_seq, walk.last_hash, now_ms, prev(conn))
            conn.execute(insert(SIGNED).values(**signed_row(checkpoint)))
            prepared = prepare(
                NewEntry(
                    EventType.ledger_checkpoint,
                    "system",
                    {
                        "cut_seq": cut_seq,
                        "cut_hash": walk.last_hash.hex(),
                        "entries_removed": cut_seq - start_seq,
                        "cutoff_ms": cutoff_ms,
                    },
                )
            )
            write_entries(conn, clock, [prepared])
    except SQLAlchemyError as exc:
        raise LedgerUnavailable(f"ledger cut failed: {exc}") from exc
    delete_upto(db, cut_seq)
    return CutResult(checkpoint, cut_seq - start_seq, cutoff_ms)


def delete_upto(db: Database, seq: int) -> None:
    """Delete entries and plain heads at or below a checkpoint, in short transactions."""
    try:
        with db.engine.begin() as conn:
            low = conn.execute(select(func.min(ENTRY.c.seq))).scalar()
            conn.execute(delete(SIGNED).where(SIGNED.c.kind == HeadKind.head, SIGNED.c.seq < seq))
        if low is None:
            return
        for upper in range(int(low) + _DELETE_BATCH - 1, seq + _DELETE_BATCH, _DELETE_BATCH):
            with db.engine.begin() as conn:
                conn.execute(delete(ENTRY).where(ENTRY.c.seq <= min(upper, seq)))
    except SQLAlchemyError as exc:
        raise LedgerUnavailable(f"ledger cut failed: {exc}") from exc
