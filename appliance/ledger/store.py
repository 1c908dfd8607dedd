"""The ledger on the database: appends with group commit, the tip, entries and signed heads.

Each append chains onto the locked tip in one transaction (``appliance.ledger.rows``), so
threads, processes and nodes extend one linear chain; any failure to write raises
LedgerUnavailable (fail closed). Verification lives in ``appliance.ledger.verification`` and the
retention cut in ``appliance.ledger.cut``; ``Ledger`` is their one entry point.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import LedgerUnavailable, ValidationFailed
from appliance.keys import load_signing_key, load_verify_key
from appliance.ledger.chain import JSONValue
from appliance.ledger.continuity import Continuity
from appliance.ledger.cut import CutResult, cut_ledger
from appliance.ledger.events import EventType
from appliance.ledger.heads import FIRST_PREV, HeadKind, SignedHead, head_hash, sign
from appliance.ledger.rows import (
    ENTRY,
    SIGNED,
    TIP,
    NewEntry,
    Prepared,
    head_from_row,
    is_stored,
    latest_signed,
    lock_tip,
    prepare,
    reading,
    signed_row,
    write_entries,
)
from appliance.ledger.verification import verify_ledger
from appliance.ledger.verify import VerifyReport
from appliance.ledger.witness import HeadWitness, read_heads_file
from appliance.settings import Settings

__all__ = ["Entry", "Ledger", "Tip"]

log = logging.getLogger(__name__)

_EMPTY: Mapping[str, JSONValue] = MappingProxyType({})


@dataclass(frozen=True)
class Entry:
    """A stored entry, as read back."""

    seq: int
    ts_ms: int
    event: str
    actor: str
    camera_id: str | None
    ref: str | None
    data: dict[str, Any]
    hash_hex: str


@dataclass(frozen=True)
class Tip:
    """The chain's last entry (seq 0 and the genesis hash when empty)."""

    seq: int
    hash_hex: str
    ts_ms: int


class _Waiter:
    __slots__ = ("done", "entries", "error", "seqs")

    def __init__(self, entries: list[Prepared]) -> None:
        self.entries = entries
        self.seqs: list[int] | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()  # set when committed, failed, or made the next leader


class _GroupCommit:
    """Appends from many threads share transactions: one leader commits everything queued.

    With ``synchronous=FULL`` each commit costs an fsync; batching waiting appends into one
    commit is what makes thousands of durable appends per second possible. The leader commits
    one batch (its own entries included), hands leadership to the first waiter queued meanwhile,
    and wakes only the waiters of its batch.
    """

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._busy = False

    def submit(self, entries: list[Prepared]) -> list[int]:
        waiter = _Waiter(entries)
        with self._lock:
            self._queue.append(waiter)
            lead = not self._busy
            self._busy = True
        if not lead:
            waiter.done.wait()
        if waiter.seqs is None and waiter.error is None:  # leading (first, or handed over)
            with self._lock:
                batch, self._queue = self._queue, []
            try:
                self._commit(batch)
            finally:  # whatever happens, never leave the queue without a leader
                with self._lock:
                    if self._queue:
                        self._queue[0].done.set()  # the next leader
                    else:
                        self._busy = False
                for other in batch:
                    other.done.set()
        if waiter.error is not None:
            raise LedgerUnavailable(f"ledger write failed: {waiter.error}") from waiter.error
        assert waiter.seqs is not None
        return waiter.seqs

    def _commit(self, batch: list[_Waiter]) -> None:
        flat = [entry for waiter in batch for entry in waiter.entries]
        try:
            with self._ledger._db.engine.begin() as conn:
                seqs = write_entries(conn, self._ledger._clock, flat)
        except BaseException as exc:  # every waiter must learn of it
            for waiter in batch:
                waiter.error = exc
            return
        start = 0
        for waiter in batch:
            waiter.seqs = seqs[start : start + len(waiter.entries)]
            start += len(waiter.entries)


class Ledger:
    """The tamper-evident ledger (design/ledger.md). Thread-safe; one per process."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        key_dir: Path | None = None,
        retention_days: int = 730,
        zone: tzinfo = UTC,
        head_interval_s: int = 300,
        witness: HeadWitness | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._key_dir = key_dir
        self.retention_days = retention_days
        self.zone = zone
        self.head_interval_s = head_interval_s
        self._witness = witness
        self._group = _GroupCommit(self)
        self._signing_key: SigningKey | None = None
        self._head_lock = threading.Lock()
        self._last_signed: SignedHead | None = None  # what this process signed last

    @classmethod
    def open(cls, settings: Settings, db: Database, clock: Clock) -> Ledger:
        """The ledger configured by ``settings`` (keys are loaded when first needed)."""
        return cls(
            db,
            clock,
            key_dir=settings.storage.key_dir,
            retention_days=settings.ledger.retention_days,
            zone=settings.zone,
            head_interval_s=settings.ledger.head_interval_s,
            witness=HeadWitness(
                settings.ledger.heads_file or settings.storage.key_dir / "heads.log",
                settings.ledger.syslog_socket,
            ),
        )

    # -- appending ---------------------------------------------------------------------------

    def append(
        self,
        event: EventType,
        *,
        actor: str,
        data: Mapping[str, JSONValue] = _EMPTY,
        camera_id: str | None = None,
        ref: str | None = None,
        session: Session | None = None,
    ) -> int:
        """Append one entry; return its seq. Raise LedgerUnavailable if it cannot be written.

        With ``session`` the entry is written in the caller's transaction (commit or roll back
        together; the tip stays locked until then, so append last, just before commit). Without
        it the entry is durable when this returns.
        """
        return self.append_many([NewEntry(event, actor, data, camera_id, ref)], session=session)[0]

    def append_many(
        self, entries: Iterable[NewEntry], *, session: Session | None = None
    ) -> list[int]:
        """Append several entries in one transaction; return their seqs, in order."""
        prepared = [prepare(entry) for entry in entries]
        if not prepared:
            return []
        if session is None:
            return self._group.submit(prepared)
        try:
            return write_entries(session.connection(), self._clock, prepared)
        except SQLAlchemyError as exc:
            raise LedgerUnavailable(f"ledger write failed: {exc}") from exc

    # -- reading -----------------------------------------------------------------------------

    def tip(self) -> Tip:
        with reading(self._db) as conn:
            row = conn.execute(select(TIP.c.seq, TIP.c.hash, TIP.c.ts_ms)).first()
        if row is None:
            raise LedgerUnavailable("the ledger tip row is missing: run `appliance ledger verify`")
        return Tip(int(row[0]), bytes(row[1]).hex(), int(row[2]))

    def entries(
        self,
        *,
        after_seq: int = 0,
        from_ms: int | None = None,
        to_ms: int | None = None,
        events: Iterable[EventType] | None = None,
        camera_id: str | None = None,
        refs: Iterable[str] | None = None,
        limit: int | None = 1000,
    ) -> list[Entry]:
        """Stored entries in seq order, filtered (``to_ms`` exclusive)."""
        query = select(ENTRY).where(ENTRY.c.seq > after_seq).order_by(ENTRY.c.seq)
        if from_ms is not None:
            query = query.where(ENTRY.c.ts_ms >= from_ms)
        if to_ms is not None:
            query = query.where(ENTRY.c.ts_ms < to_ms)
        if events is not None:
            query = query.where(ENTRY.c.event.in_([EventType(e).value for e in events]))
        if camera_id is not None:
            query = query.where(ENTRY.c.camera_id == camera_id)
        if refs is not None:
            query = query.where(ENTRY.c.ref.in_(list(refs)))
        if limit is not None:
            query = query.limit(limit)
        with reading(self._db) as conn:
            rows = conn.execute(query).all()
        return [
            Entry(
                seq=int(r.seq),
                ts_ms=int(r.ts_ms),
                event=r.event,
                actor=r.actor,
                camera_id=r.camera_id,
                ref=r.ref,
                data=json.loads(r.data),
                hash_hex=bytes(r.hash).hex(),
            )
            for r in rows
        ]

    # -- signed heads ------------------------------------------------------------------------

    def _key(self) -> SigningKey:
        if self._signing_key is None:
            if self._key_dir is None:
                raise ValidationFailed("this ledger was opened without a key dir")
            self._signing_key = load_signing_key(self._key_dir)
        return self._signing_key

    def _verify_key(self) -> bytes:
        if self._key_dir is None:
            raise ValidationFailed("this ledger was opened without a key dir")
        return load_verify_key(self._key_dir)

    @property
    def verify_key(self) -> bytes:
        """The ed25519 verify key heads are checked with (public)."""
        return self._verify_key()

    def _prev(self, conn: Connection) -> str:
        """The ``prev`` of a head stored now in ``conn`` (which holds the tip lock).

        Normally the head stored last. If the head this process signed last has vanished from
        the database, the new head chains onto it anyway, so the deletion shows as a broken
        chain of heads instead of being papered over.
        """
        mine = self._last_signed
        if mine is not None and not is_stored(conn, mine):
            log.error(
                "the ledger head this process signed at seq %d is gone from the database: "
                "heads were deleted; `appliance ledger verify` will report it",
                mine.seq,
            )
            return head_hash(mine)
        latest = latest_signed(conn)
        return head_hash(latest) if latest is not None else FIRST_PREV

    def _witnessed(self, head: SignedHead) -> SignedHead:
        """Remember ``head`` as this process's last and copy it to the heads file and syslog."""
        self._last_signed = head
        if self._witness is not None:
            self._witness.record(head)
        return head

    def sign_head(self) -> SignedHead:
        """Sign the current tip, chained onto the previous head, store it, copy it to the
        heads file and syslog, and return it (to export or print)."""
        key = self._key()
        with self._head_lock:
            try:
                with self._db.engine.begin() as conn:
                    seq, hash_, _ = lock_tip(conn)  # heads are ordered with appends and cuts
                    head = sign(
                        key, HeadKind.head, seq, hash_, self._clock.now_ms(), self._prev(conn)
                    )
                    conn.execute(insert(SIGNED).values(**signed_row(head)))
            except SQLAlchemyError as exc:
                raise LedgerUnavailable(f"cannot store the signed head: {exc}") from exc
            return self._witnessed(head)

    def heads(self, kind: str | None = None) -> list[SignedHead]:
        """Stored signed heads (and checkpoints), oldest seq first."""
        query = select(SIGNED).order_by(SIGNED.c.seq, SIGNED.c.id)
        if kind is not None:
            query = query.where(SIGNED.c.kind == kind)
        with reading(self._db) as conn:
            return [head_from_row(r) for r in conn.execute(query).all()]

    def latest_head(self) -> SignedHead | None:
        query = (
            select(SIGNED)
            .where(SIGNED.c.kind == HeadKind.head)
            .order_by(SIGNED.c.seq.desc(), SIGNED.c.id.desc())
            .limit(1)
        )
        with reading(self._db) as conn:
            row = conn.execute(query).first()
        return head_from_row(row) if row is not None else None

    # -- verification and retention ---------------------------------------------------------

    def verify(
        self,
        head: SignedHead | None = None,
        *,
        heads: Sequence[SignedHead] = (),
        paper: Sequence[tuple[int, str]] = (),
        heads_file: Path | None = None,
        continuity: bool = False,
        key_fingerprint: str | None = None,
    ) -> VerifyReport:
        """Check the whole chain, the tip, every stored signed head and the chain of heads,
        plus exported heads (``head``, ``heads``), paper records (seq, hash prefix of 16+ hex
        digits) and a heads file (each of its heads must be stored, unless cut).

        ``continuity``: also check that heads were signed without a gap over about two
        ``head_interval_s`` and that the latest is that recent (off by default: only a
        ledger written by a running ``appliance run`` has heartbeat heads).
        ``key_fingerprint``: fail unless the key dir's verify key has this fingerprint.
        Reports the first bad seq; never raises for tampering (``report.raise_if_bad()`` does).
        """
        lines = list(read_heads_file(heads_file)) if heads_file is not None else None
        return verify_ledger(
            self._db,
            self._verify_key(),
            head,
            heads=heads,
            paper=paper,
            heads_file=lines,
            continuity=Continuity(self._clock.now_ms(), self.head_interval_s)
            if continuity
            else None,
            pinned_key=key_fingerprint,
        )

    def cut(self, *, now_ms: int | None = None) -> CutResult | None:
        """Remove entries older than the retention, keeping a signed checkpoint at the cut.

        Verifies the entries being removed first and refuses (LedgerTampered) if they are bad,
        so a checkpoint never vouches for tampered entries. None when there is nothing to cut.
        """
        with self._head_lock:
            result = cut_ledger(
                self._db,
                self._clock,
                now_ms=self._clock.now_ms() if now_ms is None else now_ms,
                retention_days=self.retention_days,
                key=self._key(),
                verify_key=self._verify_key(),
                checkpoints=self.heads(HeadKind.checkpoint),
                prev=self._prev,
            )
            if result is not None:
                self._witnessed(result.checkpoint)
        return result
