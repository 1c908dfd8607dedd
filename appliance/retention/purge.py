"""The purge executor: crypto-shred, unlink, record, in an order that survives a crash.

Per batch (design/retention.md, invariant 4):

1. **shred**, one transaction: journal the batch (``purge_job`` + ``purge_item``), drop
   segments that became held or are under their minimum, null their sealed keys, write the
   destruction records and the ledger entries. This commit is the point of no return; before
   it nothing happened, after it the footage cannot be decrypted by anyone.
2. **unlink** the files (``missing_ok``), then fsync each directory once; with an object store
   (``ctx.segment_files``), delete each segment's object and cached copy too. If the store
   does not answer, the batch stays journaled (its keys are gone already) and is finished by a
   later cycle's ``recover()``; other batches go on.
3. **finish**, one transaction: delete the segment rows, the items and the job.
4. **scrub** the database files (``Database.scrub_remnants``): SQLite checkpoints and truncates
   its WAL (``secure_delete`` has zeroed the keys' bytes); PostgreSQL vacuums. A failure is
   logged and retried by the next cycle, never fatal. The retention cycle scrubs PostgreSQL
   once per cycle instead of per batch (``scrub_each_batch``): a VACUUM's index pass reads
   whole indexes, whatever the batch size.

A crash after 1 leaves a job that ``recover()`` completes (steps 2-3 are idempotent), so after
a restart there is no key without its file, no file without its key, and every destruction is
in the ledger exactly once.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from appliance.models import DestructionRecord, PurgeItem, PurgeJob, Segment
from appliance.retention._tables import PURGE_ITEM, PURGED_TABLES, SEGMENT, SPAN_COLUMNS
from appliance.retention.destruction import Method, Reason, purge_event_data
from appliance.retention.holds import active_holds, lock_holds
from appliance.retention.policy import Rule, SegmentSpan, is_held, under_minimum
from appliance.storage import StoreUnavailable
from appliance.vault.events import record_event

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["PurgeHook", "PurgeResult", "Purger", "fsync_dir"]

log = logging.getLogger(__name__)

#: Called with a step name and the job id: "shredding" (inside the shred transaction, before
#: it commits), "shredded", "unlinking" (after the first file of the batch), "unlinked",
#: "finished". Tests raise or SIGKILL there to prove crash safety.
PurgeHook = Callable[[str, int], None]

_CHUNK = 500  # ids per IN (...) list
_UNLINK_THREADS = 4
_DELETE_THREADS = 8  # object deletes wait on the network: more in flight


@dataclass
class PurgeResult:
    """What a purge destroyed."""

    segments: int = 0
    size_bytes: int = 0
    batches: int = 0
    skipped_held: int = 0
    skipped_minimum: int = 0
    record_ids: list[int] = field(default_factory=list)

    def add(self, other: PurgeResult) -> None:
        self.segments += other.segments
        self.size_bytes += other.size_bytes
        self.batches += other.batches
        self.skipped_held += other.skipped_held
        self.skipped_minimum += other.skipped_minimum
        self.record_ids.extend(other.record_ids)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_dir(item: tuple[Path, list[Path]]) -> None:
    directory, paths = item
    for path in paths:
        path.unlink(missing_ok=True)
    if directory.is_dir():
        fsync_dir(directory)


def _chunks(ids: Sequence[int], size: int = _CHUNK) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


class Purger:
    """Destroys segments in journaled batches; ``recover`` finishes an interrupted one."""

    def __init__(
        self, ctx: AppContext, *, hook: PurgeHook | None = None, scrub_each_batch: bool = True
    ) -> None:
        self._ctx = ctx
        self._hook = hook
        self.scrub_each_batch = scrub_each_batch
        self._segments_dir = ctx.settings.segments_dir
        self._files = ctx.segment_files
        self._method = Method.shred_unlink_object if self._files.remote else Method.shred_unlink
        self.batch_size = ctx.settings.retention.batch_size

    def _step(self, name: str, job_id: int) -> None:
        if self._hook is not None:
            self._hook(name, job_id)

    # -- public ---------------------------------------------------------------------------------

    def purge(
        self,
        segment_ids: Sequence[int],
        *,
        reason: Reason,
        actor: str,
        rules: Mapping[str, Rule],
        note: str = "",
    ) -> PurgeResult:
        """Destroy ``segment_ids`` in batches, except any held or under its group minimum.

        ``rules`` maps camera id to its group's rule; a camera missing from it is skipped
        (nothing is destroyed without a known minimum).
        """
        total = PurgeResult()
        for batch in _chunks(list(segment_ids), self.batch_size):
            total.add(self._purge_batch(batch, reason=reason, actor=actor, rules=rules, note=note))
        return total

    def recover(self) -> int:
        """Finish every journaled batch (after a crash); return how many there were."""
        with self._ctx.db.session() as session:
            jobs = list(session.exec(select(PurgeJob.id).order_by(col(PurgeJob.id))).all())
        for job_id in jobs:
            assert job_id is not None
            log.warning("finishing interrupted purge batch %s", job_id)
            if self._unlink(job_id):
                self._finish(job_id)
        if jobs:
            self._ctx.db.mark_remnants(PURGED_TABLES)
            self._scrub()
        return len(jobs)

    def _scrub(self) -> None:
        if self.scrub_each_batch:
            self._ctx.db.scrub_remnants()

    # -- steps ----------------------------------------------------------------------------------

    def _purge_batch(
        self,
        ids: Sequence[int],
        *,
        reason: Reason,
        actor: str,
        rules: Mapping[str, Rule],
        note: str,
    ) -> PurgeResult:
        result = PurgeResult()
        now = self._ctx.clock.now_ms()
        with self._ctx.db.session() as session:
            job = PurgeJob(reason=reason.value, actor=actor, created_ms=now)
            session.add(job)
            session.flush()  # SQLite: the first write takes the write lock before holds are read
            assert job.id is not None
            job_id = job.id
            lock_holds(session)
            self._journal(session, job_id, ids)
            spans = self._spans(session, job_id)
            holds = active_holds(session)
            refused: list[int] = []
            for span in spans:
                rule = rules.get(span.camera_id)
                if is_held(span, holds):
                    result.skipped_held += 1
                    refused.append(span.id)
                elif rule is None or under_minimum(span, rule, now):
                    result.skipped_minimum += 1
                    refused.append(span.id)
            for chunk in _chunks(refused):
                session.execute(delete(PurgeItem).where(col(PurgeItem.segment_id).in_(chunk)))
            refused_set = set(refused)
            kept = [s for s in spans if s.id not in refused_set]
            if not kept:
                session.execute(delete(PurgeJob).where(col(PurgeJob.id) == job_id))
                return result
            in_job = select(PurgeItem.segment_id).where(PurgeItem.job_id == job_id)
            session.execute(
                update(Segment).where(col(Segment.id).in_(in_job)).values(sealed_key=None)
            )
            result.record_ids = self._record(
                session, job_id, kept, reason=reason, actor=actor, now=now, note=note
            )
            result.segments = len(kept)
            result.size_bytes = sum(s.size_bytes for s in kept)
            result.batches = 1
            self._step("shredding", job_id)
        self._step("shredded", job_id)
        self._ctx.db.mark_remnants(PURGED_TABLES)
        if self._unlink(job_id):
            self._finish(job_id)
        self._scrub()
        return result

    def _journal(self, session: Session, job_id: int, ids: Sequence[int]) -> None:
        """Insert the items; a segment already in another batch is left to that batch."""
        if not ids:
            return
        table = PURGE_ITEM
        dialect = session.get_bind().dialect.name
        stmt: Any
        if dialect == "postgresql":
            stmt = postgresql.insert(table).on_conflict_do_nothing()
        elif dialect == "sqlite":
            stmt = sqlite.insert(table).on_conflict_do_nothing()
        else:  # pragma: no cover - only the two supported databases
            stmt = insert(table)
        session.execute(stmt, [{"segment_id": i, "job_id": job_id} for i in ids])

    def _spans(self, session: Session, job_id: int) -> list[SegmentSpan]:
        rows = session.execute(
            sa_select(*SPAN_COLUMNS)
            .join(PURGE_ITEM, PURGE_ITEM.c.segment_id == SEGMENT.c.id)
            .where(PURGE_ITEM.c.job_id == job_id)
        ).all()
        return [SegmentSpan(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]

    def _record(
        self,
        session: Session,
        job_id: int,
        kept: Sequence[SegmentSpan],
        *,
        reason: Reason,
        actor: str,
        now: int,
        note: str,
    ) -> list[int]:
        """One destruction record and one ledger entry per camera of the batch."""
        hashes: dict[str, list[str]] = {}
        for camera_id, digest in session.exec(
            select(Segment.camera_id, Segment.digest)
            .join(PurgeItem, col(PurgeItem.segment_id) == Segment.id)
            .where(PurgeItem.job_id == job_id)
            .order_by(col(Segment.camera_id), col(Segment.start_ms), col(Segment.id))
        ).all():
            hashes.setdefault(camera_id, []).append(digest)
        by_camera: dict[str, list[SegmentSpan]] = {}
        for span in kept:
            by_camera.setdefault(span.camera_id, []).append(span)
        records = []
        for camera_id in sorted(by_camera):
            spans = by_camera[camera_id]
            digest = hashlib.blake2b(
                "\n".join(hashes.get(camera_id, [])).encode(), digest_size=32
            ).hexdigest()
            record = DestructionRecord(
                executed_ms=now,
                batch_id=job_id,
                camera_id=camera_id,
                segment_count=len(spans),
                start_ms=min(s.start_ms for s in spans),
                end_ms=max(s.end_ms for s in spans),
                size_bytes=sum(s.size_bytes for s in spans),
                segments_digest=digest,
                method=self._method.value,
                reason=reason.value,
                executed_by=actor,
                note=note,
            )
            session.add(record)
            records.append(record)
        session.flush()
        for record in records:  # ledger last: it keeps its tip locked until the commit
            record_event(
                self._ctx.ledger,
                session,
                "purge",
                actor=actor,
                camera_id=record.camera_id,
                ref=str(job_id),
                data=purge_event_data(record),
            )
        return [r.id for r in records if r.id is not None]

    def _unlink(self, job_id: int) -> bool:
        """Step 2; False if the object store did not answer (the job stays journaled)."""
        with self._ctx.db.session() as session:
            rows = session.exec(
                select(Segment.path, Segment.object_key)
                .join(PurgeItem, col(PurgeItem.segment_id) == Segment.id)
                .where(PurgeItem.job_id == job_id)
            ).all()
        paths = [path for path, _key in rows]
        by_dir: dict[Path, list[Path]] = {}
        for relative in paths:
            path = self._segments_dir / relative
            by_dir.setdefault(path.parent, []).append(path)
        if paths:
            first = self._segments_dir / paths[0]
            first.unlink(missing_ok=True)
            self._step("unlinking", job_id)
        # Unlink is bound by file-system latency, and directories lock separately: a few
        # threads, one directory each, overlap the waits. Each directory is fsynced once.
        with ThreadPoolExecutor(max_workers=_UNLINK_THREADS) as pool:
            list(pool.map(_unlink_dir, by_dir.items()))
        if self._files.remote and rows:
            # A segment not yet uploaded may be mid-upload: its would-be key is deleted too
            # (the uploader also deletes an object whose row lost its key meanwhile).
            files = self._files
            keys = [(path, key or files.key_for(path)) for path, key in rows]
            try:
                with ThreadPoolExecutor(max_workers=_DELETE_THREADS) as pool:
                    list(pool.map(lambda item: files.destroy(*item), keys))
            except StoreUnavailable as exc:
                log.warning("purge batch %s: objects not deleted yet (%s); retried", job_id, exc)
                return False
        self._step("unlinked", job_id)
        return True

    def _finish(self, job_id: int) -> None:
        with self._ctx.db.session() as session:
            in_job = select(PurgeItem.segment_id).where(PurgeItem.job_id == job_id)
            session.execute(delete(Segment).where(col(Segment.id).in_(in_job)))
            session.execute(delete(PurgeItem).where(col(PurgeItem.job_id) == job_id))
            session.execute(delete(PurgeJob).where(col(PurgeJob.id) == job_id))
        self._step("finished", job_id)


def count_journaled(session: Session) -> int:
    """Segments whose purge is journaled but not finished (0 in a healthy steady state)."""
    return int(session.exec(select(func.count()).select_from(PurgeItem)).one())
