"""One recorder node of several: heartbeat, leases, takeover and handback (issue 19).

Runs on one thread beside the workers when ``[node] id`` is set (design/scale.md, "Recorder
nodes"). Every ``node.heartbeat_s`` it:

1. beats (the node row: free space, floor) and renews the leases it holds; a lease found at
   another epoch is lost: its worker stops at once (its pending segment is fenced anyway).
   A node that cannot reach the database keeps recording (see ``_self_fence`` for why);
2. reads the live nodes and computes who should record what (``appliance.nodes.assignment``);
3. hands back a camera that should now be another node's, but only to a node that has been up
   ``node.handback_after_s`` (a returning node takes back only what it is given): the worker
   finishes its segment, the indexer indexes it, then the lease is released;
4. takes the leases of cameras that should be its own and are free, released or expired:
   reconciles that camera's files, records the gap since its last footage (``node_takeover``,
   ``node_handover`` or ``recorder_not_running``), starts a worker under the new epoch, and
   for a takeover raises ``camera_moved`` (and ``node_down`` for the dead node).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from appliance.alarms import AlarmKind, clear_alarm, raise_alarm
from appliance.context import AppContext
from appliance.nodes import (
    Grant,
    How,
    NodeInfo,
    acquire,
    beat,
    deregister,
    desired_owners,
    ensure_leases,
    list_nodes,
    register,
    release,
    renew,
)
from recorder.diskguard import DiskGuard
from recorder.status import FailReason

__all__ = ["GAP_REASONS", "NodeCluster", "StartCamera", "StopCameras"]

log = logging.getLogger(__name__)

#: The gap a new holder records from the camera's last footage, by how it got the lease.
GAP_REASONS = {
    How.new: FailReason.recorder_not_running,
    How.resumed: FailReason.recorder_not_running,
    How.handover: FailReason.node_handover,
    How.takeover: FailReason.node_takeover,
}

StartCamera = Callable[[str, Grant, FailReason], None]
#: Stop these cameras' workers (all signalled first, then each joined) and return once ended.
StopCameras = Callable[[list[str]], None]


class NodeCluster:
    """This node's membership; see the module docstring. The daemon owns the workers and
    gives ``start_camera``/``stop_camera``; this decides which cameras they are."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        start_camera: StartCamera,
        stop_cameras: StopCameras,
        flush_index: Callable[[], bool],
        disk: DiskGuard,
    ) -> None:
        settings = ctx.settings
        self.ctx = ctx
        self.node_id = settings.node.id
        self.config = settings.node
        self.ttl_ms = int(settings.node.lease_ttl_s * 1000)
        self._start_camera = start_camera
        self._stop_cameras = stop_cameras
        self._flush_index = flush_index
        self._disk = disk
        self._preferred = {c.id: settings.preferred_node(c) for c in settings.cameras if c.enabled}
        self.held: dict[str, int] = {}  # camera -> epoch
        self._lock = threading.Lock()
        self._fenced: set[str] = set()
        self._down: set[str] = set()  # nodes this node has seen die (node_down raised)
        self._stop = threading.Event()
        self._beat_stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="node-cluster", daemon=True)
        # Beats and renewals on their own thread: a slow handback or start must never let
        # this node's leases expire under its running workers.
        self._beater = threading.Thread(target=self._beat_loop, name="node-beat", daemon=True)
        self._lost: set[str] = set()
        self._renewed_at = time.monotonic()
        self.ticks = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        with self.ctx.db.session() as session:
            ensure_leases(session, self._preferred)
            register(
                session,
                self.node_id,
                live_url=self.config.live_url,
                floor_bytes=self._disk.floor_bytes,
            )
            clear_alarm(session, AlarmKind.node_down, self.ctx.clock.now_ms(), self.subject)
        self._renewed_at = time.monotonic()
        self._beater.start()
        self._thread.start()
        log.info("node %s registered (%d cameras configured)", self.node_id, len(self._preferred))

    @property
    def subject(self) -> str:
        return f"node:{self.node_id}"

    def alive(self) -> bool:
        return self._thread.is_alive() and self._beater.is_alive()

    def stop_loop(self) -> None:
        """Stop deciding (the beats go on until ``release_all``)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(self.config.heartbeat_s + self.ctx.settings.recorder.rtsp_timeout_s
                              + 30)  # fmt: skip

    def release_all(self) -> None:
        """After the workers stopped and the indexer indexed their last segments: release
        every lease and deregister, so the others take the cameras at their next beat."""
        with self._lock:
            held, self.held = dict(self.held), {}
        with self.ctx.db.session() as session:
            for camera_id, epoch in sorted(held.items()):
                release(session, camera_id, self.node_id, epoch)
            deregister(session, self.node_id)
        self._beat_stop.set()
        if self._beater.is_alive():
            self._beater.join(10)

    def fenced(self, camera_id: str) -> None:
        """The indexer refused a segment of ``camera_id``: stop its worker at once."""
        with self._lock:
            self._fenced.add(camera_id)
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("node %s: cluster tick failed", self.node_id)
            self._wake.wait(self.config.heartbeat_s)
            self._wake.clear()

    def _beat_loop(self) -> None:
        while not self._beat_stop.is_set():
            try:
                self.beat()
            except Exception:
                log.exception("node %s: heartbeat failed", self.node_id)
                self._self_fence()
            self._beat_stop.wait(self.config.heartbeat_s)

    def beat(self) -> None:
        """The heartbeat and the renewal of every lease held; lost ones go to the loop."""
        with self._lock:
            held = dict(self.held)
        with self.ctx.db.session() as session:
            beat(session, self.node_id, free_bytes=self._disk.free_bytes,
                 below_floor=self._disk.paused)  # fmt: skip
            lost = renew(session, self.node_id, held, self.ttl_ms)
        self._renewed_at = time.monotonic()
        if lost:
            with self._lock:
                self._lost |= lost
            self._wake.set()

    def _self_fence(self) -> None:
        """Renewal failing (the database unreachable from here): recording goes on. If the
        others cannot reach it either, nobody takes our cameras and our footage is indexed
        when it returns; if they can, they take the leases, and the fence refuses whatever
        we recorded meanwhile (``check_fence``), and the next renewal stops our workers.
        Stopping on our own would lose footage in the common case (the database down for
        everyone) to protect an index the fence protects anyway."""
        away_s = time.monotonic() - self._renewed_at
        if self.held and away_s > self.config.lease_ttl_s:
            log.error("node %s: leases not renewed for %.0f s; recording goes on, the index "
                      "fence decides", self.node_id, away_s)  # fmt: skip

    def tick(self) -> None:
        """One round of decisions; see the module docstring."""
        self.ticks += 1
        with self._lock:
            gone = (self._fenced | self._lost) & set(self.held)
            self._fenced, self._lost = set(), set()
        if gone:
            log.warning("node %s: leases of %s lost: stopping them", self.node_id,
                        ", ".join(sorted(gone)))  # fmt: skip
            self._stop_cameras(sorted(gone))
            with self._lock:
                for camera_id in gone:
                    self.held.pop(camera_id, None)
        with self.ctx.db.session() as session:
            nodes = list_nodes(session, self.ttl_ms)
        self._note_down(nodes)
        live = {n.id for n in nodes if n.live} | {self.node_id}
        settled = {n.id for n in nodes if n.live and n.up_ms >= self.config.handback_after_s * 1000}
        desired = desired_owners(self._preferred, live)
        give = [
            camera_id
            for camera_id in sorted(self.held)
            if desired.get(camera_id, self.node_id) != self.node_id
            and desired.get(camera_id) in settled
        ]
        if give and not self._stop.is_set():
            self._hand_back(give, desired)
        for camera_id, owner in sorted(desired.items()):
            if owner == self.node_id and camera_id not in self.held and not self._stop.is_set():
                self._take(camera_id)

    def _hand_back(self, cameras: list[str], desired: dict[str, str]) -> None:
        """Stop them all, index their last segments under our epochs, then release."""
        log.info("node %s: handing back %s", self.node_id,
                 ", ".join(f"{c} to {desired[c]}" for c in cameras))  # fmt: skip
        self._stop_cameras(cameras)
        self._flush_index()
        with self._lock:
            epochs = {c: self.held.pop(c) for c in cameras if c in self.held}
        with self.ctx.db.session() as session:
            for camera_id, epoch in epochs.items():
                release(session, camera_id, self.node_id, epoch)

    def _take(self, camera_id: str) -> None:
        with self.ctx.db.session() as session:
            grant = acquire(session, camera_id, self.node_id, self.ttl_ms)
        if grant is None:
            return
        with self._lock:
            self.held[camera_id] = grant.epoch
        log.info("node %s: %s lease of %s (epoch %d, from %s)", self.node_id, grant.how.value,
                 camera_id, grant.epoch, grant.previous or "nobody")  # fmt: skip
        now = self.ctx.clock.now_ms()
        with self.ctx.db.session() as session:
            subject = f"camera:{camera_id}"
            if grant.how is How.takeover:
                raise_alarm(
                    session,
                    AlarmKind.camera_moved,
                    f"camera {camera_id} moved from node {grant.previous} (stopped beating) "
                    f"to node {self.node_id}; the gap is on its timeline",
                    now,
                    subject,
                )
            elif grant.how is How.handover:
                clear_alarm(session, AlarmKind.camera_moved, now, subject)
        try:
            self._start_camera(camera_id, grant, GAP_REASONS[grant.how])
        except Exception:
            log.exception("node %s: could not start %s: releasing it", self.node_id, camera_id)
            self._stop_cameras([camera_id])
            with self._lock:
                self.held.pop(camera_id, None)
            with self.ctx.db.session() as session:
                release(session, camera_id, self.node_id, grant.epoch)

    def _note_down(self, nodes: list[NodeInfo]) -> None:
        """``node_down`` once per death seen (cleared by the node itself when it returns)."""
        now = self.ctx.clock.now_ms()
        for node in nodes:
            if node.id == self.node_id:
                continue
            dead = not node.live and not node.stopped
            if dead and node.id not in self._down:
                self._down.add(node.id)
                with self.ctx.db.session() as session:
                    raise_alarm(
                        session,
                        AlarmKind.node_down,
                        f"recorder node {node.id} ({node.host}) stopped beating "
                        f"{node.heartbeat_age_ms // 1000} s ago; its cameras move to the "
                        "live nodes",
                        now,
                        f"node:{node.id}",
                    )
            elif node.live:
                self._down.discard(node.id)
