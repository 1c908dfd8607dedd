"""Segment files on disk: writing one, making it durable, indexing it, and reconciling at start.

Durability order (invariant 3), per segment:

1. samples are encrypted into ``.<name>.seg.tmp`` as they arrive (ciphertext only);
2. the trailer and footer are written; a ``pending_segment`` row (the sealed key) is committed;
3. the file is fsynced, renamed to ``<name>.seg``, and its directory fsynced;
4. one transaction inserts the ``segment`` row (with the SHA-256 of the file) and deletes the
   pending row.

A crash before 2 leaves a temp file (deleted at start); between 2 and 4 a complete file with its
pending row (re-indexed at start); nothing indexed is ever unreadable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from appliance.clock import Clock
from appliance.db import Database
from appliance.media.format import (
    SegmentHead,
    SegmentSummary,
    SegmentWriter,
    file_digest,
    inspect_segment_file,
)
from appliance.media.layout import (
    SEGMENT_SUFFIX,
    TEMP_SUFFIX,
    ensure_dir,
    fsync_dir,
    segment_relpath,
    temp_path_for,
)
from appliance.media.sealing import new_segment_key
from appliance.models.media import CameraStatus, PendingSegment, Segment

__all__ = [
    "FinishedSegment",
    "OpenSegment",
    "ReconcileReport",
    "SegmentIndexer",
    "reconcile",
]

log = logging.getLogger(__name__)

_INSERT_ATTEMPTS = 4
_INSERT_RETRY_S = 0.5

# Called inside the transaction that inserts a segment row (the ledger entry, R-REC-4).
OnIndexed = Callable[[Session, Segment], None]


@dataclass
class FinishedSegment:
    """A segment whose file is complete but not yet durable nor indexed."""

    camera_id: str
    run_id: int | None
    relpath: str
    final_path: Path
    temp_path: Path
    fd: int
    vault_key_id: str
    sealed_key: bytes
    summary: SegmentSummary
    size_bytes: int
    digest: str


class OpenSegment:
    """The segment being written for one camera: a temp file and its encrypting writer."""

    def __init__(
        self,
        segments_dir: Path,
        head: SegmentHead,
        *,
        run_id: int | None,
        vault_key_id: str,
        public_key: bytes,
    ) -> None:
        self.head = head
        self.run_id = run_id
        self.vault_key_id = vault_key_id
        self.relpath = segment_relpath(head.camera_id, head.start_ms, secrets.token_hex(4))
        self.final_path = segments_dir / self.relpath
        ensure_dir(self.final_path.parent, segments_dir)
        self.temp_path = temp_path_for(self.final_path)
        key, self.sealed_key = new_segment_key(public_key)
        self.fd = os.open(
            self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
        )
        try:
            self.writer = SegmentWriter(self.fd, key, head)
        except BaseException:
            self.abort()
            raise
        del key  # the writer's stream state is all that remains, until finish
        self.frames = 0
        self.key_frames = 0

    def finish(self, end_ms: int) -> FinishedSegment:
        video = self.head.video
        summary = SegmentSummary(
            camera_id=self.head.camera_id,
            start_ms=self.head.start_ms,
            end_ms=max(end_ms, self.head.start_ms + 1),
            frames=self.frames,
            key_frames=self.key_frames,
            samples=self.writer.samples,
            payload_bytes=self.writer.payload_bytes,
            codec=video.codec,
            width=video.width,
            height=video.height,
            has_audio=len(self.head.streams) > 1,
        )
        size, digest = self.writer.finish(summary)
        return FinishedSegment(
            camera_id=self.head.camera_id,
            run_id=self.run_id,
            relpath=self.relpath,
            final_path=self.final_path,
            temp_path=self.temp_path,
            fd=self.fd,
            vault_key_id=self.vault_key_id,
            sealed_key=self.sealed_key,
            summary=summary,
            size_bytes=size,
            digest=digest,
        )

    def abort(self) -> None:
        """Drop an unusable segment (nothing indexed refers to it)."""
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.temp_path.unlink(missing_ok=True)


def _segment_row(
    summary: SegmentSummary,
    *,
    relpath: str,
    run_id: int | None,
    size_bytes: int,
    digest: str,
    vault_key_id: str,
    sealed_key: bytes,
    created_ms: int,
) -> Segment:
    return Segment(
        camera_id=summary.camera_id,
        run_id=run_id,
        start_ms=summary.start_ms,
        end_ms=summary.end_ms,
        path=relpath,
        size_bytes=size_bytes,
        digest=digest,
        vault_key_id=vault_key_id,
        sealed_key=sealed_key,
        codec=summary.codec,
        width=summary.width,
        height=summary.height,
        frames=summary.frames,
        key_frames=summary.key_frames,
        has_audio=summary.has_audio,
        created_ms=created_ms,
    )


def _insert_segment(session: Session, segment: Segment, on_indexed: OnIndexed | None) -> Segment:
    session.add(segment)
    session.flush()
    session.execute(delete(PendingSegment).where(col(PendingSegment.path) == segment.path))
    session.execute(
        update(CameraStatus)
        .where(col(CameraStatus.camera_id) == segment.camera_id)
        .values(last_segment_end_ms=segment.end_ms)
    )
    if on_indexed is not None:
        on_indexed(session, segment)
    return segment


class SegmentIndexer:
    """A background thread that makes finished segments durable and indexes them, in order.

    Keeping fsync and the database off the camera threads means a slow disk or a busy database
    delays indexing, never the RTSP reads.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        on_indexed: OnIndexed | None = None,
        after_index: Callable[[Segment], None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_indexed = on_indexed
        self._after_index = after_index
        self._queue: queue.Queue[FinishedSegment | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="segment-indexer", daemon=True)
        self.indexed = 0
        self.failed = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: FinishedSegment) -> None:
        self._queue.put(job)

    def stop(self, timeout_s: float = 60.0) -> None:
        """Index everything submitted so far, then end the thread."""
        self._queue.put(None)
        self._thread.join(timeout_s)

    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                segment = self.index(job)
            except Exception:
                # The file stays (temp or pending): the next start's reconcile repairs it.
                self.failed += 1
                log.exception("indexing %s failed", job.relpath)
                continue
            self.indexed += 1
            if self._after_index is not None:
                self._after_index(segment)

    def index(self, job: FinishedSegment) -> Segment:
        """Steps 2-4 of the durability order, synchronously."""
        now = self._clock.now_ms()
        try:
            with self._db.session() as session:
                session.add(
                    PendingSegment(
                        path=job.relpath,
                        camera_id=job.camera_id,
                        run_id=job.run_id,
                        vault_key_id=job.vault_key_id,
                        sealed_key=job.sealed_key,
                        created_ms=now,
                    )
                )
            os.fsync(job.fd)
        finally:
            os.close(job.fd)
        job.temp_path.rename(job.final_path)
        fsync_dir(job.final_path.parent)
        # The file is durable and its key is in pending_segment: a failed insert (database
        # busy, ledger unavailable) is retried, and failing that, re-indexed at the next start.
        for attempt in range(_INSERT_ATTEMPTS):
            segment = _segment_row(
                job.summary,
                relpath=job.relpath,
                run_id=job.run_id,
                size_bytes=job.size_bytes,
                digest=job.digest,
                vault_key_id=job.vault_key_id,
                sealed_key=job.sealed_key,
                created_ms=now,
            )
            try:
                with self._db.session() as session:
                    return _insert_segment(session, segment, self._on_indexed)
            except Exception:
                if attempt + 1 == _INSERT_ATTEMPTS:
                    raise
                log.warning("indexing %s failed; retrying", job.relpath, exc_info=True)
                time.sleep(_INSERT_RETRY_S * (attempt + 1))
        raise AssertionError("unreachable")


@dataclass
class ReconcileReport:
    """What a start-up reconcile found and did (paths relative to the segments dir)."""

    temp_deleted: list[str] = field(default_factory=list)
    reindexed: list[str] = field(default_factory=list)
    orphans_deleted: list[str] = field(default_factory=list)
    pending_dropped: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.temp_deleted
            or self.reindexed
            or self.orphans_deleted
            or self.pending_dropped
            or self.missing_files
        )


def reconcile(
    db: Database,
    segments_dir: Path,
    clock: Clock,
    *,
    on_indexed: OnIndexed | None = None,
    cameras: Iterable[str] | None = None,
) -> ReconcileReport:
    """Bring files and rows back in line after a crash (invariant 3). Needs no private key.

    Temp files are deleted; a complete file without a row is indexed if its pending row (the
    sealed key) exists, else deleted (it could never be read); pending rows without a file are
    dropped; rows whose file is missing are reported, never deleted here. With ``cameras``,
    only those cameras' files and rows are looked at (a recorder reconciles what it records:
    another node may be writing the others).
    """
    report = ReconcileReport()
    only = None if cameras is None else set(cameras)
    with db.session() as session:
        pending = {
            p.path: p
            for p in session.exec(select(PendingSegment)).all()
            if only is None or p.camera_id in only
        }
    if segments_dir.is_dir():
        for camera_dir in sorted(p for p in segments_dir.iterdir() if p.is_dir()):
            if only is not None and camera_dir.name not in only:
                continue
            _reconcile_camera(db, segments_dir, camera_dir, clock, pending, report, on_indexed)
    for path in sorted(pending):
        if path not in report.reindexed:
            with db.session() as session:
                session.execute(delete(PendingSegment).where(col(PendingSegment.path) == path))
            report.pending_dropped.append(path)
    for name, paths in vars(report).items():
        if paths:
            log.warning("reconcile: %s: %s", name, ", ".join(paths))
    return report


def _reconcile_camera(
    db: Database,
    segments_dir: Path,
    camera_dir: Path,
    clock: Clock,
    pending: dict[str, PendingSegment],
    report: ReconcileReport,
    on_indexed: OnIndexed | None,
) -> None:
    with db.session() as session:
        rows = set(
            session.exec(
                select(Segment.path).where(
                    col(Segment.camera_id) == camera_dir.name,
                    col(Segment.sealed_key).is_not(None),
                )
            ).all()
        )
    seen: set[str] = set()
    for root, _dirs, files in os.walk(camera_dir):
        for name in files:
            path = Path(root) / name
            rel = path.relative_to(segments_dir).as_posix()
            if name.endswith(TEMP_SUFFIX):
                path.unlink()
                fsync_dir(path.parent)
                report.temp_deleted.append(rel)
            elif name.endswith(SEGMENT_SUFFIX):
                seen.add(rel)
                if rel not in rows and not _reindex(db, path, rel, clock, pending, on_indexed):
                    path.unlink()
                    fsync_dir(path.parent)
                    report.orphans_deleted.append(rel)
                elif rel not in rows:
                    report.reindexed.append(rel)
    report.missing_files.extend(sorted(rows - seen))


def _reindex(
    db: Database,
    path: Path,
    rel: str,
    clock: Clock,
    pending: dict[str, PendingSegment],
    on_indexed: OnIndexed | None,
) -> bool:
    holder = pending.get(rel)
    summary = inspect_segment_file(path)
    if holder is None or summary is None:
        return False
    segment = _segment_row(
        summary,
        relpath=rel,
        run_id=holder.run_id,
        size_bytes=path.stat().st_size,
        digest=file_digest(path),
        vault_key_id=holder.vault_key_id,
        sealed_key=holder.sealed_key,
        created_ms=clock.now_ms(),
    )
    with db.session() as session:
        _insert_segment(session, segment, on_indexed)
    return True
