"""The ledger's tables beneath ``Ledger``: checking a new entry, chaining it onto the tip.

Serialisation: every write first locks the one-row ``ledger_tip`` (``SELECT ... FOR UPDATE`` on
PostgreSQL; on SQLite a write to it, which takes the database's single write lock), reads the
tip, chains the new entries onto it and moves it, all in the caller's transaction. Threads,
processes and nodes therefore extend one linear chain. Signed heads are stored as rows of
``ledger_signed_head`` (``signed_row``, ``head_from_row``); ``latest_signed`` is the head the
next one chains onto (the last row by id).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import LedgerUnavailable, ValidationFailed
from appliance.ledger.chain import JSONValue, canonical_data, entry_hash
from appliance.ledger.events import EventType
from appliance.ledger.heads import SignedHead
from appliance.models.ledger import LedgerEntry, LedgerSignedHead, LedgerTip

__all__ = [
    "ENTRY",
    "SIGNED",
    "TIP",
    "NewEntry",
    "Prepared",
    "head_from_row",
    "head_from_tuple",
    "is_stored",
    "latest_signed",
    "lock_tip",
    "prepare",
    "reading",
    "signed_row",
    "write_entries",
]

ENTRY = cast(Table, LedgerEntry.__table__)  # type: ignore[attr-defined]
TIP = cast(Table, LedgerTip.__table__)  # type: ignore[attr-defined]
SIGNED = cast(Table, LedgerSignedHead.__table__)  # type: ignore[attr-defined]

# Built once: constructing statements costs more than running them on a small transaction.
_TIP_COLUMNS = (TIP.c.seq, TIP.c.hash, TIP.c.ts_ms)
_LOCK_TIP_PG = select(*_TIP_COLUMNS).where(TIP.c.id == 1).with_for_update()
_LOCK_TIP_SQLITE = update(TIP).where(TIP.c.id == 1).values(seq=TIP.c.seq).returning(*_TIP_COLUMNS)
_INSERT_ENTRY = insert(ENTRY)
_MOVE_TIP = (
    update(TIP)
    .where(TIP.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"), ts_ms=bindparam("new_ts_ms"))
)


@dataclass(frozen=True)
class NewEntry:
    """An entry to append (``append_many``); the same fields as ``Ledger.append``."""

    event: EventType
    actor: str
    data: Mapping[str, JSONValue] = field(default_factory=dict)
    camera_id: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked ``NewEntry`` with its data already in canonical JSON."""

    event: str
    actor: str
    camera_id: str | None
    ref: str | None
    data: str


def prepare(entry: NewEntry) -> Prepared:
    """Check ``entry`` (ValidationFailed) and encode its data."""
    # Checked here, in the caller's thread, so a bad entry never fails a whole group commit.
    try:
        event = EventType(entry.event)
    except ValueError as exc:
        raise ValidationFailed(f"unknown ledger event {entry.event!r}") from exc
    if not entry.actor or len(entry.actor) > 200:
        raise ValidationFailed("a ledger entry needs an actor of 1-200 characters")
    if entry.camera_id is not None and not 0 < len(entry.camera_id) <= 63:
        raise ValidationFailed("camera_id must be 1-63 characters")
    if entry.ref is not None and not 0 < len(entry.ref) <= 200:
        raise ValidationFailed("ref must be 1-200 characters")
    return Prepared(
        event.value, entry.actor, entry.camera_id, entry.ref, canonical_data(entry.data)
    )


def lock_tip(conn: Connection) -> tuple[int, bytes, int]:
    """Lock the tip row until the transaction ends; return its (seq, hash, ts_ms)."""
    if conn.dialect.name == "postgresql":
        row = conn.execute(_LOCK_TIP_PG).first()
    else:
        # A write takes SQLite's one write lock now (waiting up to the busy timeout), so what
        # it returns is the newest tip and nobody else can move it before we commit.
        row = conn.execute(_LOCK_TIP_SQLITE).first()
    if row is None:
        raise LedgerUnavailable("the ledger tip row is missing: run `appliance ledger verify`")
    return int(row[0]), bytes(row[1]), int(row[2])


def write_entries(conn: Connection, clock: Clock, prepared: Sequence[Prepared]) -> list[int]:
    """Chain ``prepared`` onto the locked tip in ``conn``'s transaction; return their seqs."""
    seq, prev, _ = lock_tip(conn)
    first = seq + 1
    ts_ms = clock.now_ms()
    rows: list[dict[str, Any]] = []
    for p in prepared:
        seq += 1
        prev = entry_hash(prev, seq, ts_ms, p.event, p.actor, p.camera_id, p.ref, p.data)
        rows.append(
            {
                "seq": seq,
                "ts_ms": ts_ms,
                "event": p.event,
                "actor": p.actor,
                "camera_id": p.camera_id,
                "ref": p.ref,
                "data": p.data,
                "hash": prev,
            }
        )
    conn.execute(_INSERT_ENTRY, rows)
    conn.execute(_MOVE_TIP, {"new_seq": seq, "new_hash": prev, "new_ts_ms": ts_ms})
    return list(range(first, seq + 1))


@contextmanager
def reading(db: Database) -> Iterator[Connection]:
    """A connection to read with; a database error becomes LedgerUnavailable (fail closed)."""
    try:
        with db.engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise LedgerUnavailable(f"ledger read failed: {exc}") from exc


def signed_row(head: SignedHead) -> dict[str, Any]:
    """The ``ledger_signed_head`` row values of ``head``."""
    return {
        "kind": head.kind,
        "seq": head.seq,
        "hash": bytes.fromhex(head.hash_hex),
        "signed_ms": head.signed_ms,
        "key_id": head.key_id,
        "signature": bytes.fromhex(head.signature_hex),
        "prev_hash": None if head.prev_hex is None else bytes.fromhex(head.prev_hex),
    }


def head_from_tuple(row: Sequence[Any]) -> SignedHead:
    """A head from (kind, seq, hash, signed_ms, key_id, signature, prev_hash)."""
    kind, seq, hash_, signed_ms, key_id, signature, prev = row
    return SignedHead(
        kind=kind,
        seq=int(seq),
        hash_hex=bytes(hash_).hex(),
        signed_ms=int(signed_ms),
        key_id=key_id,
        signature_hex=bytes(signature).hex(),
        prev_hex=None if prev is None else bytes(prev).hex(),
    )


def head_from_row(row: Any) -> SignedHead:
    """A head from a ``ledger_signed_head`` row."""
    return head_from_tuple(
        (row.kind, row.seq, row.hash, row.signed_ms, row.key_id, row.signature, row.prev_hash)
    )


_LATEST_SIGNED = select(SIGNED).order_by(SIGNED.c.id.desc()).limit(1)
_SIGNED_BY_SIGNATURE = select(SIGNED.c.id).where(SIGNED.c.signature == bindparam("sig"))


def latest_signed(conn: Connection) -> SignedHead | None:
    """The head (or checkpoint) stored last: the one a new head chains onto."""
    row = conn.execute(_LATEST_SIGNED).first()
    return head_from_row(row) if row is not None else None


def is_stored(conn: Connection, head: SignedHead) -> bool:
    """True while ``head`` (found by its signature) is in ``ledger_signed_head``."""
    found = conn.execute(_SIGNED_BY_SIGNATURE, {"sig": bytes.fromhex(head.signature_hex)})
    return found.first() is not None
