"""The recorder service: reconcile, then one worker thread per enabled camera.

Registered as the ``recorder`` entry point of ``appliance.daemons``; ``appliance run`` starts
it. It holds the vault *public* key only (invariant 2). A single box records every enabled
camera; with ``[node] id`` set the node records the cameras whose leases it holds
(``recorder.cluster``), each worker under its lease's epoch. Either way the disk guard
(``recorder.diskguard``) keeps the recorder's own free-space floor.
"""

from __future__ import annotations

import logging

from sqlalchemy import func
from sqlmodel import Session, col, select

from appliance.context import AppContext
from appliance.errors import NotFound
from appliance.ledger import EventType
from appliance.models.media import Gap, Run, Segment
from appliance.nodes import Grant
from appliance.storage import Uploader
from recorder.cluster import NodeCluster
from recorder.deps import WorkerDeps
from recorder.diskguard import DiskGuard
from recorder.fanout import PacketFanout
from recorder.indexer import SegmentIndexer
from recorder.memory import release_free_memory, tune_allocator
from recorder.reconcile import ReconcileReport, reconcile
from recorder.relieve import drop_uploaded_copies
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
        self.node_id = ctx.settings.node.id
        self.indexer = SegmentIndexer(
            ctx.db,
            ctx.clock,
            on_indexed=self._on_indexed,
            after_index=self._after_index,
            node_id=self.node_id,
            on_fenced=self._on_fenced,
        )
        self.workers: dict[str, CameraWorker] = {}
        self.report: ReconcileReport | None = None
        self.cluster: NodeCluster | None = None
        self.disk: DiskGuard | None = None
        self._deps: WorkerDeps | None = None
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
        self.disk = DiskGuard(
            settings.segments_dir,
            self.ctx.db,
            self.ctx.clock,
            floor_bytes=settings.recorder.disk_floor_bytes,
            resume_margin_bytes=settings.recorder.disk_resume_margin_bytes,
            node_id=self.node_id,
            relieve=self._relieve if self.uploader is not None else None,
        )
        self.disk.start()
        self._deps = WorkerDeps(
            db=self.ctx.db,
            clock=self.ctx.clock,
            config=settings.recorder,
            segments_dir=settings.segments_dir,
            vault_key=vault_key,
            indexer=self.indexer,
            status=self.status_board,
            zone=settings.zone,
            disk=self.disk,
        )
        self.indexer.start()
        if self.uploader is not None:
            self.uploader.start()
        if self.node_id:
            self.cluster = NodeCluster(
                self.ctx,
                start_camera=self._start_leased,
                stop_cameras=self._stop_workers,
                flush_index=self.indexer.flush,
                disk=self.disk,
            )
            self.cluster.start()
            self.ctx.live.attach(self)
            return
        cameras = [c for c in settings.cameras if c.enabled]
        self.report = reconcile(
            self.ctx.db,
            settings.segments_dir,
            self.ctx.clock,
            on_indexed=self._on_indexed,
            cameras=[c.id for c in cameras],
        )
        gaps = self._resume_history([c.id for c in cameras])
        for camera in cameras:
            self._start_worker(camera.id, gaps.get(camera.id), None)
        # Live view in this process reads the workers' fan-outs (design/access.md).
        self.ctx.live.attach(self)
        log.info("recording %d cameras", len(cameras))

    def _start_worker(self, camera_id: str, gap_id: int | None, epoch: int | None) -> None:
        assert self._deps is not None
        camera = self.ctx.settings.camera(camera_id)
        worker = CameraWorker(
            camera,
            self._deps,
            audio_allowed=self.ctx.settings.group(camera.group).audio_allowed,
            open_gap_id=gap_id,
            lease_epoch=epoch,
        )
        self.workers[camera.id] = worker
        worker.start()

    def _start_leased(self, camera_id: str, grant: Grant, reason: FailReason) -> None:
        """A lease taken (``recorder.cluster``): repair this camera's files, record the gap
        since its last footage, record it under the lease's epoch."""
        settings = self.ctx.settings
        reconcile(self.ctx.db, settings.segments_dir, self.ctx.clock,
                  on_indexed=self._on_indexed, cameras=[camera_id])  # fmt: skip
        gaps = self._resume_history([camera_id], reason)
        self._start_worker(camera_id, gaps.get(camera_id), grant.epoch)

    def _stop_workers(self, camera_ids: list[str]) -> None:
        """Signal every one first (they finish their segments side by side), then join. They
        go to another node: their status rows are that node's to write."""
        workers = [w for w in (self.workers.pop(c, None) for c in camera_ids) if w is not None]
        for worker in workers:
            worker.stop(mark_stopped=False)
        for worker in workers:
            worker.join(self.ctx.settings.recorder.rtsp_timeout_s + 10)

    def _relieve(self, deficit_bytes: int) -> int:
        """Below the floor with an object store: drop uploaded local copies first."""
        return drop_uploaded_copies(self.ctx.db, self.ctx.segment_files, deficit_bytes)

    def _on_fenced(self, camera_id: str) -> None:
        if self.cluster is not None:
            self.cluster.fenced(camera_id)

    def stop(self) -> None:
        """Finish every camera's current segment and index it before returning; a node then
        releases its leases (the others take the cameras at their next beat)."""
        self.ctx.live.detach(self)
        if self.cluster is not None:
            self.cluster.stop_loop()
        workers = list(self.workers.values())
        for worker in workers:
            worker.stop()
        timeout_s = self.ctx.settings.recorder.rtsp_timeout_s + 10
        for worker in workers:
            worker.join(timeout_s)
        self.indexer.stop()
        if self.cluster is not None:
            self.cluster.release_all()
        if self.uploader is not None:
            self.uploader.stop()
        if self.disk is not None:
            self.disk.stop()

    def alive(self) -> bool:
        parts_alive = (self.cluster is None or self.cluster.alive()) and (
            self.uploader is None or self.uploader.alive()
        )
        return (
            parts_alive
            and self.indexer.alive()
            and all(w.alive() for w in list(self.workers.values()))
        )

    def stalled(self) -> dict[str, float]:
        """Camera workers and the indexer silent for over ``recorder.stall_after_s``, with
        the seconds since each last made progress (``appliance.daemons.Watched``: the
        supervisor then withholds the systemd watchdog ping)."""
        limit = self.ctx.settings.recorder.stall_after_s
        found = {f"camera {cid}": w.heartbeat.silent_for() for cid, w in self.workers.items()}
        found["segment indexer"] = self.indexer.heartbeat.silent_for()
        return {part: silent for part, silent in found.items() if silent > limit}

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

    def _resume_history(
        self, camera_ids: list[str], reason: FailReason = FailReason.recorder_not_running
    ) -> dict[str, int]:
        """Close runs a crash (or a dead node) left open; open a gap from each camera's last
        footage to now, with ``reason``.

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
                start_ms = min(int(last_end), now)
                gap = Gap(camera_id=camera_id, start_ms=start_ms, reason=reason.value)
                session.add(gap)
                session.flush()
                assert gap.id is not None
                gaps[camera_id] = gap.id
        return gaps


def create(ctx: AppContext) -> RecorderDaemon:
    """Entry point of ``appliance.daemons``."""
    return RecorderDaemon(ctx)
