"""``Uploader``: puts each indexed segment of this node into the object store, with retry.

A background thread of the recorder daemon (``recorder/daemon.py``): nudged after each
segment is indexed, and every few seconds anyway, it finds rows with ``object_key IS NULL``
and a local copy, uploads the ones whose file is on this node's disk (another node's are left
to it), then records the key on the row (``SegmentFiles.upload``) and, with
``local_copy = "drop_after_upload"``, drops the local file. A failed upload is retried with a
per-segment backoff (1 s doubling to ``upload_retry_max_s``); ``workers`` uploads are in flight
at once; after three failures in a row
the ``upload_failing`` alarm is raised, and it is cleared by the next pass without one. The
files stay on the local disk meanwhile, so an unreachable store delays the upload, never the
recording. A segment the purge destroys while it is being uploaded is noticed (its row is gone
or its key shredded when the key is recorded) and its new object deleted at once.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from appliance.alarms import AlarmKind, clear_alarm, raise_alarm
from appliance.clock import Clock
from appliance.db import Database
from appliance.models.media import Segment
from appliance.storage.base import StoreUnavailable
from appliance.storage.files import SegmentFiles

__all__ = ["UploadPass", "Uploader"]

log = logging.getLogger(__name__)

_PAGE = 200
_POLL_S = 2.0
_ELSEWHERE_RECHECK_MS = 60_000  # a row whose file is not here: look again after this
_ALARM_AFTER = 3  # failures in a row


@dataclass
class UploadPass:
    uploaded: int = 0
    bytes: int = 0
    failed: int = 0
    dropped: int = 0
    elsewhere: int = 0


class Uploader:
    """Uploads this node's segments that are not in the object store yet."""

    def __init__(
        self,
        db: Database,
        files: SegmentFiles,
        clock: Clock,
        *,
        retry_max_s: float = 60.0,
        poll_s: float = _POLL_S,
        workers: int = 4,
    ) -> None:
        if not files.remote:
            raise ValueError("an uploader needs an object store")
        self._db = db
        self._files = files
        self._clock = clock
        self._retry_max_ms = int(retry_max_s * 1000)
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="segment-uploader", daemon=True)
        # Uploads wait on the network and the store, not the CPU: a few in flight.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload")
        self._lock = threading.Lock()  # the counters and retry tables below
        self._next_try: dict[int, tuple[int, int]] = {}  # id -> (not before ms, failures)
        self._elsewhere: dict[int, int] = {}  # id -> not before ms
        self._failures_in_a_row = 0
        self._alarmed: bool | None = None  # None: unknown (an alarm may be left from before)
        self._prepared = False
        self.uploaded = 0
        self.uploaded_bytes = 0
        self.failed = 0

    # -- thread ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        """A segment was indexed: look now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """One last pass (what the indexer finished on the way down), then end."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout_s)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            stopping = self._stopping.is_set()
            try:
                self.run_once()
            except Exception:
                log.exception("upload pass failed")
            if stopping:
                return
            self._wake.wait(self._poll_s)
            self._wake.clear()

    # -- one pass ----------------------------------------------------------------------------

    def pending(self) -> int:
        """Rows not yet in the object store (all nodes')."""
        with self._db.session() as session:
            return int(
                session.exec(
                    select(func.count()).where(
                        col(Segment.object_key).is_(None),
                        col(Segment.local_copy),
                        col(Segment.sealed_key).is_not(None),
                    )
                ).one()
            )

    def run_once(self) -> UploadPass:
        """Upload everything due now; returns what happened."""
        result = UploadPass()
        if not self._prepared:
            assert self._files.store is not None
            try:
                self._files.store.prepare()
            except StoreUnavailable as exc:
                log.warning("object store not ready: %s", exc)
                result.failed += 1
                self._alarm(result)
                return result
            self._prepared = True
        after = 0
        seen: set[int] = set()
        while True:
            if self._stopping.is_set() and result.failed:
                break  # shutting down with the store away: the next start retries
            with self._db.session() as session:
                rows = list(
                    session.exec(
                        select(Segment)
                        .where(
                            col(Segment.object_key).is_(None),
                            col(Segment.local_copy),
                            col(Segment.sealed_key).is_not(None),
                            col(Segment.id) > after,
                        )
                        .order_by(col(Segment.id))
                        .limit(_PAGE)
                    ).all()
                )
                for row in rows:
                    session.expunge(row)
            if not rows:
                self._next_try = {k: v for k, v in self._next_try.items() if k in seen}
                self._elsewhere = {k: v for k, v in self._elsewhere.items() if k in seen}
                break
            after = rows[-1].id or after
            seen.update(s.id for s in rows if s.id is not None)
            list(self._pool.map(lambda segment: self._one(segment, result), rows))
        self._alarm(result)
        return result

    def _one(self, segment: Segment, result: UploadPass) -> None:
        assert segment.id is not None
        now = self._clock.now_ms()
        if self._elsewhere.get(segment.id, 0) > now:
            with self._lock:
                result.elsewhere += 1
            return
        not_before, failures = self._next_try.get(segment.id, (0, 0))
        if not_before > now:
            return
        path = self._files.local_path(segment)
        if not path.exists():
            with self._lock:
                self._elsewhere[segment.id] = now + _ELSEWHERE_RECHECK_MS
                result.elsewhere += 1
            return
        try:
            with self._db.session() as session:
                key = self._files.upload(session, segment, now)
            if key is None:  # purged meanwhile; its object is deleted again
                return
        except (StoreUnavailable, OSError) as exc:
            failures += 1
            wait_ms = min(self._retry_max_ms, 1000 * 2 ** (failures - 1))
            with self._lock:
                self._next_try[segment.id] = (now + wait_ms, failures)
                self.failed += 1
                result.failed += 1
            log.warning("upload of %s failed (attempt %d): %s", segment.path, failures, exc)
            return
        with self._lock:
            self._next_try.pop(segment.id, None)
            self._elsewhere.pop(segment.id, None)
            self.uploaded += 1
            self.uploaded_bytes += segment.size_bytes
            result.uploaded += 1
            result.bytes += segment.size_bytes
        if self._files.drop_after_upload:
            with self._db.session() as session:
                self._files.drop_local(session, segment)
            with self._lock:
                result.dropped += 1

    def _alarm(self, result: UploadPass) -> None:
        if result.failed:
            self._failures_in_a_row += 1
        elif result.uploaded or not self._next_try:
            self._failures_in_a_row = 0
        now = self._clock.now_ms()
        if self._failures_in_a_row >= _ALARM_AFTER:
            with self._db.session() as session:
                raise_alarm(
                    session,
                    AlarmKind.upload_failing,
                    f"{len(self._next_try)} segment(s) not uploaded to the object store; "
                    "they stay on the local disk and are retried",
                    now,
                )
            self._alarmed = True
        elif self._failures_in_a_row == 0 and self._alarmed is not False:
            with self._db.session() as session:
                clear_alarm(session, AlarmKind.upload_failing, now)
            self._alarmed = False
