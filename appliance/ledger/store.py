"""The ledger on the database: appends (group commit), signed heads, verification, retention cut.

Serialisation: every append first locks the one-row ``ledger_tip`` (``SELECT ... FOR UPDATE`` on
PostgreSQL; on SQLite a write to it, which takes the database's single write lock), reads the tip,
chains the new entries onto it and moves it, all in one transaction. Threads, processes and nodes
therefore extend one linear chain. Any failure to write raises LedgerUnavailable (fail closed).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from nacl.signing import SigningKey
from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import LedgerTampered, LedgerUnavailable, ValidationFailed
from appliance.keys import load_signing_key, load_verify_key
from appliance.ledger.chain import GENESIS, JSONValue, canonical_data, entry_hash
from appliance.ledger.events import EventType
from appliance.ledger.heads import HeadKind, SignedHead, sign
from appliance.ledger.verify import ChainWalk, VerifyReport, walk_chain
from appliance.models.ledger import LedgerEntry, LedgerSignedHead, LedgerTip
from appliance.settings import Settings

__all__ = ["CutResult", "Entry", "Ledger", "NewEntry", "Tip"]

_ENTRY = cast(Table, LedgerEntry.__table__)  # type: ignore[attr-defined]
_TIP = cast(Table, LedgerTip.__table__)  # type: ignore[attr-defined]
_SIGNED = cast(Table, LedgerSignedHead.__table__)  # type: ignore[attr-defined]

# Built once: constructing statements costs more than running them on a small transaction.
_TIP_COLUMNS = (_TIP.c.seq, _TIP.c.hash, _TIP.c.ts_ms)
_LOCK_TIP_PG = select(*_TIP_COLUMNS).where(_TIP.c.id == 1).with_for_update()
_LOCK_TIP_SQLITE = (
    update(_TIP).where(_TIP.c.id == 1).values(seq=_TIP.c.seq).returning(*_TIP_COLUMNS)
)
_INSERT_ENTRY = insert(_ENTRY)
_MOVE_TIP = (
    update(_TIP)
    .where(_TIP.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"), ts_ms=bindparam("new_ts_ms"))
)

_EMPTY: Mapping[str, JSONValue] = MappingProxyType({})
_DAY_MS = 86_400_000
_FETCH_ROWS = 20_000
_DELETE_BATCH = 50_000
_COLUMNS = "seq, ts_ms, event, actor, camera_id, ref, data, hash"


@dataclass(frozen=True)
class NewEntry:
    """An entry to append (``append_many``); the same fields as ``Ledger.append``."""

    event: EventType
    actor: str
    data: Mapping[str, JSONValue] = field(default_factory=dict)
    camera_id: str | None = None
    ref: str | None = None


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


@dataclass(frozen=True)
class CutResult:
    """A retention cut: entries up to ``checkpoint.seq`` removed, verification starts there."""

    checkpoint: SignedHead
    entries_removed: int
    cutoff_ms: int


@dataclass(frozen=True, slots=True)
class _Prepared:
    event: str
    actor: str
    camera_id: str | None
    ref: str | None
    data: str


def _prepare(entry: NewEntry) -> _Prepared:
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
    return _Prepared(
        event.value, entry.actor, entry.camera_id, entry.ref, canonical_data(entry.data)
    )


class _Waiter:
    __slots__ = ("done", "entries", "error", "seqs")

    def __init__(self, entries: list[_Prepared]) -> None:
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

    def submit(self, entries: list[_Prepared]) -> list[int]:
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
                seqs = self._ledger._write(conn, flat)
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
    ) -> None:
        self._db = db
        self._clock = clock
        self._key_dir = key_dir
        self.retention_days = retention_days
        self.zone = zone
        self._group = _GroupCommit(self)
        self._signing_key: SigningKey | None = None

    @classmethod
    def open(cls, settings: Settings, db: Database, clock: Clock) -> Ledger:
        """The ledger configured by ``settings`` (keys are loaded when first needed)."""
        return cls(
            db,
            clock,
            key_dir=settings.storage.key_dir,
            retention_days=settings.ledger.retention_days,
            zone=settings.zone,
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
        prepared = [_prepare(entry) for entry in entries]
        if not prepared:
            return []
        if session is None:
            return self._group.submit(prepared)
        try:
            return self._write(session.connection(), prepared)
        except SQLAlchemyError as exc:
            raise LedgerUnavailable(f"ledger write failed: {exc}") from exc

    def _lock_tip(self, conn: Connection) -> tuple[int, bytes, int]:
        if conn.dialect.name == "postgresql":
            row = conn.execute(_LOCK_TIP_PG).first()
        else:
            # A write takes SQLite's one write lock now (waiting up to the busy timeout), so what
            # it returns is the newest tip and nobody else can move it before we commit.
            row = conn.execute(_LOCK_TIP_SQLITE).first()
        if row is None:
            raise LedgerUnavailable("the ledger tip row is missing: run `appliance ledger verify`")
        return int(row[0]), bytes(row[1]), int(row[2])

    def _write(self, conn: Connection, prepared: Sequence[_Prepared]) -> list[int]:
        seq, prev, _ = self._lock_tip(conn)
        first = seq + 1
        ts_ms = self._clock.now_ms()
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

    # -- reading -----------------------------------------------------------------------------

    def tip(self) -> Tip:
        with self._reading() as conn:
            row = conn.execute(select(_TIP.c.seq, _TIP.c.hash, _TIP.c.ts_ms)).first()
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
        query = select(_ENTRY).where(_ENTRY.c.seq > after_seq).order_by(_ENTRY.c.seq)
        if from_ms is not None:
            query = query.where(_ENTRY.c.ts_ms >= from_ms)
        if to_ms is not None:
            query = query.where(_ENTRY.c.ts_ms < to_ms)
        if events is not None:
            query = query.where(_ENTRY.c.event.in_([EventType(e).value for e in events]))
        if camera_id is not None:
            query = query.where(_ENTRY.c.camera_id == camera_id)
        if refs is not None:
            query = query.where(_ENTRY.c.ref.in_(list(refs)))
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as conn:
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

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self._db.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise LedgerUnavailable(f"ledger read failed: {exc}") from exc

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

    def sign_head(self) -> SignedHead:
        """Sign the current tip, store the head and return it (to export or print)."""
        key = self._key()
        try:
            with self._db.engine.begin() as conn:
                row = conn.execute(select(_TIP.c.seq, _TIP.c.hash)).first()
                if row is None:
                    raise LedgerUnavailable("the ledger tip row is missing")
                head = sign(key, HeadKind.head, int(row[0]), bytes(row[1]), self._clock.now_ms())
                conn.execute(insert(_SIGNED).values(**_signed_row(head)))
        except SQLAlchemyError as exc:
            raise LedgerUnavailable(f"cannot store the signed head: {exc}") from exc
        return head

    def heads(self, kind: str | None = None) -> list[SignedHead]:
        """Stored signed heads (and checkpoints), oldest seq first."""
        query = select(_SIGNED).order_by(_SIGNED.c.seq, _SIGNED.c.id)
        if kind is not None:
            query = query.where(_SIGNED.c.kind == kind)
        with self._reading() as conn:
            return [_head_from_row(r) for r in conn.execute(query).all()]

    def latest_head(self) -> SignedHead | None:
        query = (
            select(_SIGNED)
            .where(_SIGNED.c.kind == HeadKind.head)
            .order_by(_SIGNED.c.seq.desc(), _SIGNED.c.id.desc())
            .limit(1)
        )
        with self._reading() as conn:
            row = conn.execute(query).first()
        return _head_from_row(row) if row is not None else None

    # -- verification ------------------------------------------------------------------------

    def verify(
        self,
        head: SignedHead | None = None,
        *,
        heads: Sequence[SignedHead] = (),
        paper: Sequence[tuple[int, str]] = (),
    ) -> VerifyReport:
        """Check the whole chain, the tip and every stored signed head, plus exported heads
        (``head``, ``heads``) and paper records (seq, hash prefix of 16+ hex digits).

        Reports the first bad seq; never raises for tampering (``report.raise_if_bad()`` does).
        """
        verify_key = self._verify_key()
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
        with self._snapshot() as (raw, param):
            cur = raw.cursor()
            cur.execute("SELECT seq, hash FROM ledger_tip WHERE id = 1")
            tip_row = cur.fetchone()
            cur.execute(
                "SELECT id, kind, seq, hash, signed_ms, key_id, signature "
                "FROM ledger_signed_head ORDER BY seq, id"
            )
            stored = [(r[0], _head_from_tuple(r[1:])) for r in cur.fetchall()]
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
                        f"the given head at seq {exported.seq} is not signed by this "
                        "appliance's key",
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
                self._stream(raw, param, start_seq, None), start_seq, start_hash, anchors
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

    @contextmanager
    def _snapshot(self) -> Iterator[tuple[Any, str]]:
        """A raw DB-API connection inside one read-only snapshot, and its parameter marker.

        One snapshot so that appends running meanwhile do not look like entries beyond the tip.
        """
        driver_error: type[Exception] = self._db.engine.dialect.dbapi.Error  # type: ignore[union-attr]
        try:
            raw = self._db.engine.raw_connection()
        except SQLAlchemyError as exc:
            raise LedgerUnavailable(f"ledger read failed: {exc}") from exc
        driver: Any = raw.driver_connection
        try:
            if self._db.is_sqlite:
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

    def _stream(
        self, driver: Any, param: str, after_seq: int, upto_seq: int | None
    ) -> Iterator[list[tuple[Any, ...]]]:
        sql = f"SELECT {_COLUMNS} FROM ledger_entry WHERE seq > {param}"  # noqa: S608
        args: tuple[int, ...] = (after_seq,)
        if upto_seq is not None:
            sql += f" AND seq <= {param}"
            args += (upto_seq,)
        sql += " ORDER BY seq"
        if self._db.is_sqlite:
            cur = driver.cursor()
        else:
            # Server-side, so rows arrive in batches; binary, so bytea needs no hex decoding.
            cur = driver.cursor(name="ledger_walk", binary=True)
        try:
            cur.execute(sql, args)
            while batch := cur.fetchmany(_FETCH_ROWS):
                yield batch
        finally:
            cur.close()

    # -- retention ---------------------------------------------------------------------------

    def cut(self, *, now_ms: int | None = None) -> CutResult | None:
        """Remove entries older than the retention, keeping a signed checkpoint at the cut.

        Verifies the entries being removed first and refuses (LedgerTampered) if they are bad,
        so a checkpoint never vouches for tampered entries. None when there is nothing to cut.
        """
        now = self._clock.now_ms() if now_ms is None else now_ms
        cutoff_ms = now - self.retention_days * _DAY_MS
        key = self._key()
        verify_key = self._verify_key()
        start_seq, start_hash = 0, GENESIS
        for signed in self.heads(HeadKind.checkpoint):
            if signed.check_signature(verify_key):
                start_seq, start_hash = signed.seq, bytes.fromhex(signed.hash_hex)
        self._delete_upto(start_seq)  # finishes a cut interrupted after its checkpoint
        with self._reading() as conn:
            first_kept = conn.execute(
                select(func.min(_ENTRY.c.seq)).where(
                    _ENTRY.c.seq > start_seq, _ENTRY.c.ts_ms >= cutoff_ms
                )
            ).scalar()
            last = conn.execute(select(func.max(_ENTRY.c.seq))).scalar()
        cut_seq = int(first_kept) - 1 if first_kept is not None else int(last or 0)
        if cut_seq <= start_seq:
            return None
        with self._snapshot() as (raw, param):
            walk = walk_chain(self._stream(raw, param, start_seq, cut_seq), start_seq, start_hash)
        if walk.problem is not None or walk.last_seq != cut_seq:
            raise LedgerTampered(
                f"refusing to cut: {walk.problem or f'entries up to {cut_seq} are missing'}",
                walk.first_bad_seq,
            )
        try:
            with self._db.engine.begin() as conn:
                self._lock_tip(conn)
                stored = conn.execute(select(_ENTRY.c.hash).where(_ENTRY.c.seq == cut_seq)).scalar()
                if stored is None or bytes(stored) != walk.last_hash:
                    raise LedgerTampered(f"entry {cut_seq} changed during the cut", cut_seq)
                checkpoint = sign(key, HeadKind.checkpoint, cut_seq, walk.last_hash, now)
                conn.execute(insert(_SIGNED).values(**_signed_row(checkpoint)))
                prepared = _prepare(
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
                self._write(conn, [prepared])
        except SQLAlchemyError as exc:
            raise LedgerUnavailable(f"ledger cut failed: {exc}") from exc
        self._delete_upto(cut_seq)
        return CutResult(checkpoint, cut_seq - start_seq, cutoff_ms)

    def _delete_upto(self, seq: int) -> None:
        """Delete entries and plain heads at or below a checkpoint, in short transactions."""
        try:
            with self._db.engine.begin() as conn:
                low = conn.execute(select(func.min(_ENTRY.c.seq))).scalar()
                conn.execute(
                    delete(_SIGNED).where(_SIGNED.c.kind == HeadKind.head, _SIGNED.c.seq < seq)
                )
            if low is None:
                return
            for upper in range(int(low) + _DELETE_BATCH - 1, seq + _DELETE_BATCH, _DELETE_BATCH):
                with self._db.engine.begin() as conn:
                    conn.execute(delete(_ENTRY).where(_ENTRY.c.seq <= min(upper, seq)))
        except SQLAlchemyError as exc:
            raise LedgerUnavailable(f"ledger cut failed: {exc}") from exc


def _signed_row(head: SignedHead) -> dict[str, Any]:
    return {
        "kind": head.kind,
        "seq": head.seq,
        "hash": bytes.fromhex(head.hash_hex),
        "signed_ms": head.signed_ms,
        "key_id": head.key_id,
        "signature": bytes.fromhex(head.signature_hex),
    }


def _head_from_tuple(row: Sequence[Any]) -> SignedHead:
    kind, seq, hash_, signed_ms, key_id, signature = row
    return SignedHead(
        kind=kind,
        seq=int(seq),
        hash_hex=bytes(hash_).hex(),
        signed_ms=int(signed_ms),
        key_id=key_id,
        signature_hex=bytes(signature).hex(),
    )


def _head_from_row(row: Any) -> SignedHead:
    return _head_from_tuple((row.kind, row.seq, row.hash, row.signed_ms, row.key_id, row.signature))
