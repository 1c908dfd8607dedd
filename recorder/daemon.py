"""The recorder service: reconcile, then one worker thread per enabled camera.

Registered as the ``recorder`` entry point of ``appliance.daemons``; ``appliance run`` starts
it. It holds the vault *public* key only (invariant 2).
"""

from __future__ import annotations

import logging

from sqlalchemy import func
from sqlmodel import Session, col, select

from appliance.context import AppContext
from appliance.errors import NotFound
from appliance.ledger import EventType
from appliance.models.media import Gap, Run, Segment
from appliance.storage import Uploader
from recorder.deps import WorkerDeps
from recorder.fanout import PacketFanout
from recorder.indexer import SegmentIndexer
from recorder.memory import release_free_memory, tune_allocator
from recorder.reconcile import ReconcileReport, reconcile
from recorder.status import FailReason, StatusBoard, StatusInfo
from recorder.vaultkey import VaultPublicKey
from recorder.worker import CameraWorker

__all__ = ["RecorderDaemon", "create"]

log = logging.getLogger(__name__)


class RecorderDaemon:
    """Records every enabled camera of the configuration until stopped."""

    name = "recorder"

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.status_board = StatusBoard(ctx.db, ctx.clock)
        self.indexer = SegmentIndexer(
            ctx.db,
            ctx.clock,
            on_indexed=self._on_indexed,
            after_index=self._after_index,
        )
        self.workers: dict[str, CameraWorker] = {}
        self.report: ReconcileReport | None = None
        # With an object store, this node uploads what it recorded (design/storage.md).
        self.uploader: Uploader | None = None
        if ctx.segment_files.remote:
            self.uploader = Uploader(
                ctx.db,
                ctx.segment_files,
                ctx.clock,
                retry_max_s=ctx.settings.storage.upload_retry_max_s,
            )

    def start(self) -> None:
        settings = self.ctx.settings
        tune_allocator()
        vault_key = VaultPublicKey(settings.storage.key_dir)
        cameras = [c for c in settings.cameras if c.enabled]
        self.report = reconcile(
            self.ctx.db,
            settings.segments_dir,
            self.ctx.clock,
            on_indexed=self._on_indexed,
            cameras=[c.id for c in cameras],
        )
        deps = WorkerDeps(
            db=self.ctx.db,
            clock=self.ctx.clock,
            config=settings.recorder,
            segments_dir=settings.segments_dir,
            vault_key=vault_key,
            indexer=self.indexer,
            status=self.status_board,
            zone=settings.zone,
        )
        gaps = self._resume_history([c.id for c in cameras])
        self.indexer.start()
        if self.uploader is not None:
            self.uploader.start()
        for camera in cameras:
            worker = CameraWorker(
                camera,
                deps,
                audio_allowed=settings.group(camera.group).audio_allowed,
                open_gap_id=gaps.get(camera.id),
            )
            self.workers[camera.id] = worker
            worker.start()
        # Live view in this process reads the workers' fan-outs (design/access.md).
        self.ctx.live.attach(self)
        log.info("recording %d cameras", len(cameras))

    def stop(self) -> None:
        """Finish every camera's current segment and index it before returning."""
        self.ctx.live.detach(self)
        for worker in self.workers.values():
            worker.stop()
        timeout_s = self.ctx.settings.recorder.rtsp_timeout_s + 10
        for worker in self.workers.values():
            worker.join(timeout_s)
        self.indexer.stop()
        if self.uploader is not None:
            self.uploader.stop()

    def alive(self) -> bool:
        uploading = self.uploader is None or self.uploader.alive()
        return uploading and self.indexer.alive() and all(w.alive() for w in self.workers.values())

    def status(self) -> dict[str, StatusInfo]:
        """Every camera's current status (the in-process view of ``camera_status``)."""
        return self.status_board.all()

    def fanout(self, camera_id: str) -> PacketFanout:
        """The live-view hook of a camera: subscribe to its samples, read its MP4 init."""
        try:
            return self.workers[camera_id].fanout
        except KeyError as exc:
            raise NotFound(f"camera {camera_id} is not being recorded") from exc

    def _after_index(self, segment: Segment) -> None:
        self.status_board.segment_indexed(segment.camera_id, segment.end_ms)
        if self.uploader is not None:
            self.uploader.nudge()
        release_free_memory()

    def _on_indexed(self, session: Session, segment: Segment) -> None:
        """The ledger entry of a new segment, in the row's own transaction (R-REC-4): the
        creation time is the ledger's, hash-chained, so it cannot be changed afterwards."""
        self.ctx.ledger.append(
            EventType.segment_created,
            actor="recorder",
            camera_id=segment.camera_id,
            ref=str(segment.id),
            data={
                "segment_id": segment.id,
                "path": segment.path,
                "digest": segment.digest,
                "start_ms": segment.start_ms,
                "end_ms": segment.end_ms,
                "size_bytes": segment.size_bytes,
            },
            session=session,
        )

    def _resume_history(self, camera_ids: list[str]) -> dict[str, int]:
        """Close runs a crash left open; open a gap from each camera's last footage to now.

        Only this service's cameras: another recorder node may be recording the others.

        Returns the open gap id per camera (closed by its worker when recording starts).
        """
        now = self.ctx.clock.now_ms()
        gaps: dict[str, int] = {}
        with self.ctx.db.session() as session:
            open_runs = select(Run).where(
                col(Run.ended_ms).is_(None), col(Run.camera_id).in_(camera_ids)
            )
            for run in session.exec(open_runs).all():
                last = session.exec(
                    select(func.max(Segment.end_ms)).where(col(Segment.run_id) == run.id)
                ).one()
                run.ended_ms = last if last is not None else run.started_ms
                run.end_reason = "recorder stopped without closing the run"
                session.add(run)
            for camera_id in camera_ids:
                open_gap = session.exec(
                    select(Gap).where(col(Gap.camera_id) == camera_id, col(Gap.end_ms).is_(None))
                ).first()
                if open_gap is not None and open_gap.id is not None:
                    gaps[camera_id] = open_gap.id
                    continue
                last_end = session.exec(
                    select(func.max(Segment.end_ms)).where(col(Segment.camera_id) == camera_id)
                ).one()
                if last_end is None:
                    continue
                gap = Gap(
                    camera_id=camera_id,
                    start_ms=min(int(last_end), now),
                    reason=FailReason.recorder_not_running.value,
                )
                session.add(gap)
                session.flush()
                assert gap.id is not None
                gaps[camera_id] = gap.id
        return gaps


def create(ctx: AppContext) -> RecorderDaemon:
    """Entry point of ``appliance.daemons``."""
    return RecorderDaemon(ctx)
