"""Making finished segments durable and indexing them (steps 2-4 of ``recorder.segments``).

``SegmentIndexer`` runs them on one background thread, in order; ``segment_row`` and
``insert_segment`` are shared with the start-up repair (``recorder.reconcile``).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from sqlalchemy import delete, update
from sqlmodel import Session, col

from appliance.clock import Clock
from appliance.db import Database
from appliance.media.format import SegmentSummary
from appliance.media.layout import fsync_dir
from appliance.models.media import CameraStatus, PendingSegment, Segment
from appliance.nodes import LeaseLost, check_fence
from recorder.heartbeat import Heartbeat
from recorder.segments import FinishedSegment

__all__ = ["OnIndexed", "SegmentIndexer", "insert_segment", "segment_row"]

log = logging.getLogger(__name__)

_INSERT_ATTEMPTS = 4
_INSERT_RETRY_S = 0.5

# Called inside the transaction that inserts a segment row (the ledger entry, R-REC-4).
OnIndexed = Callable[[Session, Segment], None]


def segment_row(
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
    """The ``segment`` row of a complete file."""
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


def insert_segment(session: Session, segment: Segment, on_indexed: OnIndexed | None) -> Segment:
    """Step 4: insert the row, drop its pending row, move the camera's last end, then the hook."""
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
        node_id: str = "",
        on_fenced: Callable[[str], None] | None = None,
    ) -> None:
        self._db = db
        self._node_id = node_id
        self._on_fenced = on_fenced
        self._clock = clock
        self._on_indexed = on_indexed
        self._after_index = after_index
        self._queue: queue.Queue[FinishedSegment | threading.Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="segment-indexer", daemon=True)
        self.indexed = 0
        self.failed = 0
        # Idle while the queue is empty; a segment taking longer than recorder.stall_after_s
        # to index (a lock never released, a disk that stopped answering) is a stall.
        self.heartbeat = Heartbeat()
        self.fenced = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: FinishedSegment) -> None:
        self._queue.put(job)

    def flush(self, timeout_s: float = 60.0) -> bool:
        """Wait until everything submitted so far is indexed (or fenced); False on timeout."""
        reached = threading.Event()
        self._queue.put(reached)
        return reached.wait(timeout_s)

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
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                self.heartbeat.idle()
                job = self._queue.get()
            self.heartbeat.beat()
            if job is None:
                return
            if isinstance(job, threading.Event):
                job.set()
                continue
            try:
                segment = self.index(job)
            except LeaseLost as exc:
                self.fenced += 1
                log.warning("not indexed, file and key dropped: %s", exc)
                if self._on_fenced is not None:
                    self._on_fenced(job.camera_id)
                continue
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
            segment = segment_row(
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
                    if job.lease_epoch is not None:
                        check_fence(session, job.camera_id, self._node_id, job.lease_epoch)
                    return insert_segment(session, segment, self._on_indexed)
            except LeaseLost:
                self._drop_fenced(job)
                raise
            except Exception:
                if attempt + 1 == _INSERT_ATTEMPTS:
                    raise
                log.warning("indexing %s failed; retrying", job.relpath, exc_info=True)
                time.sleep(_INSERT_RETRY_S * (attempt + 1))
        raise AssertionError("unreachable")

    def _drop_fenced(self, job: FinishedSegment) -> None:
        """Another node holds the camera now: this footage is never indexed (the other node's
        is), so its file and its pending row (the only copy of its sealed key) go, and the next
        reconcile cannot re-index it either."""
        with self._db.session() as session:
            session.execute(delete(PendingSegment).where(col(PendingSegment.path) == job.relpath))
        self._db.mark_remnants(["pending_segment"])
        job.final_path.unlink(missing_ok=True)
        fsync_dir(job.final_path.parent)
