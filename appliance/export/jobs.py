"""Export jobs: masked exports are built one at a time by a worker thread, not in the HTTP
request (issue 13, finding 5).

Masking re-encodes every frame; run in the request, a few exports at once would take every
core from the recorder. ``ExportJobs`` keeps a bounded queue (``viewing.export_queue``; a
full queue is ``RateLimited``) and an in-memory table of jobs with their state and progress
(queued, building, done, failed). One worker thread builds them in turn; it starts on the
first submission and ends when the queue is empty, so an idle process holds no thread. The
job table is the process's memory: after a restart, the exports themselves (rows, ledger
entries, packages) are what remains; a job cut by the restart shows in no table, and its
package, never recorded, does not exist (``appliance.requests.copies`` shreds an unrecorded
package). Nothing secret is kept in a job: the transport passphrase is chosen when the job
is queued and shown then, once.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from appliance.clock import Clock
from appliance.errors import ApplianceError, NotFound, RateLimited

__all__ = ["Built", "ExportJob", "ExportJobs", "JobState", "Progress", "Work", "export_jobs"]

if TYPE_CHECKING:
    from appliance.context import AppContext

log = logging.getLogger(__name__)
_CREATE_LOCK = threading.Lock()

#: Told by the builder: the fraction done (0..1) and what it is doing.
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Built:
    """What a finished job made: the export (package) id and what to tell the officer."""

    export_id: str
    signer_fingerprint: str = ""
    no_footage: tuple[str, ...] = ()


#: The build itself: given a progress callback, returns what it built.
Work = Callable[[Progress], Built]

_KEEP_FINISHED = 200  # finished jobs remembered (oldest forgotten first)
_RETRY_AFTER_S = 60


class JobState(StrEnum):
    queued = "queued"
    building = "building"
    done = "done"
    failed = "failed"


@dataclass(frozen=True)
class ExportJob:
    """A snapshot of one job."""

    id: str
    request_id: int
    created_by: str
    state: JobState
    progress: float
    stage: str
    queued_ms: int
    started_ms: int | None = None
    finished_ms: int | None = None
    export_id: str | None = None
    signer_fingerprint: str = ""
    no_footage: tuple[str, ...] = ()
    error: str = ""


class ExportJobs:
    """The queue and table of export jobs of one process."""

    def __init__(self, clock: Clock, max_queued: int) -> None:
        self._clock = clock
        self._queue: queue.Queue[tuple[str, Work]] = queue.Queue(maxsize=max_queued)
        self._lock = threading.Lock()
        self._jobs: dict[str, ExportJob] = {}
        self._worker: threading.Thread | None = None

    def submit(self, request_id: int, created_by: str, work: Work) -> ExportJob:
        """Queue ``work``; RateLimited when ``max_queued`` jobs already wait."""
        job = ExportJob(
            id=uuid.uuid4().hex,
            request_id=request_id,
            created_by=created_by,
            state=JobState.queued,
            progress=0.0,
            stage="queued",
            queued_ms=self._clock.now_ms(),
        )
        with self._lock:
            try:
                self._queue.put_nowait((job.id, work))
            except queue.Full as exc:
                raise RateLimited(
                    f"{self._queue.maxsize} exports are waiting to be built "
                    "(viewing.export_queue); try again when one is done",
                    _RETRY_AFTER_S,
                ) from exc
            self._jobs[job.id] = job
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="export-jobs", daemon=True)
                self._worker.start()
        return job

    def get(self, job_id: str, request_id: int | None = None) -> ExportJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or (request_id is not None and job.request_id != request_id):
            raise NotFound(f"no export job {job_id}")
        return job

    def of_request(self, request_id: int) -> list[ExportJob]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.request_id == request_id]
        return sorted(jobs, key=lambda j: j.queued_ms)

    def wait(self, job_id: str, timeout_s: float) -> ExportJob:
        """The job once finished (or as it is after ``timeout_s``): for the CLI and tests."""
        deadline = threading.Event()
        waited = 0.0
        while waited < timeout_s:
            job = self.get(job_id)
            if job.state in (JobState.done, JobState.failed):
                return job
            deadline.wait(0.05)
            waited += 0.05
        return self.get(job_id)

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = replace(job, **changes)  # type: ignore[arg-type]

    def _run(self) -> None:
        while True:
            with self._lock:
                try:
                    job_id, work = self._queue.get_nowait()
                except queue.Empty:
                    self._worker = None  # a later submission starts a new worker
                    return
            self._build(job_id, work)
            self._forget_old()

    def _build(self, job_id: str, work: Work) -> None:
        self._update(
            job_id, state=JobState.building, stage="starting", started_ms=self._clock.now_ms()
        )

        def progress(fraction: float, stage: str) -> None:
            self._update(job_id, progress=max(0.0, min(1.0, fraction)), stage=stage)

        try:
            built = work(progress)
        except ApplianceError as exc:
            self._finish(job_id, JobState.failed, error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug must not kill the worker; the job says it failed
            log.exception("export job %s failed", job_id)
            self._finish(job_id, JobState.failed, error=f"internal error: {type(exc).__name__}")
        else:
            self._finish(
                job_id,
                JobState.done,
                export_id=built.export_id,
                signer_fingerprint=built.signer_fingerprint,
                no_footage=built.no_footage,
                progress=1.0,
            )

    def _finish(self, job_id: str, state: JobState, **changes: object) -> None:
        self._update(
            job_id, state=state, stage=state.value, finished_ms=self._clock.now_ms(), **changes
        )

    def _forget_old(self) -> None:
        with self._lock:
            finished = [
                j for j in self._jobs.values() if j.state in (JobState.done, JobState.failed)
            ]
            finished.sort(key=lambda j: j.finished_ms or 0)
            for job in finished[: max(0, len(finished) - _KEEP_FINISHED)]:
                del self._jobs[job.id]


def export_jobs(ctx: AppContext) -> ExportJobs:
    """The one ``ExportJobs`` of ``ctx``'s process (made on first use, kept on the context)."""
    with _CREATE_LOCK:
        jobs = ctx.__dict__.get("_export_jobs")
        if not isinstance(jobs, ExportJobs):
            jobs = ExportJobs(ctx.clock, ctx.settings.viewing.export_queue)
            ctx.__dict__["_export_jobs"] = jobs
        return jobs
