"""One camera: RTSP session after RTSP session, packets into encrypted segments, never decoded.

A worker is a thread; it owns its camera's connection, gap rows and status. Anything one camera
does wrong (refuses, times out, sends garbage) ends at most that worker's current session
(``recorder.session.RecordingSession``); the worker reconnects with a capped backoff.

The connection is a ``recorder.source.PacketSource``: the native client
(``recorder.rtsp.RtspSource``) or FFmpeg's demuxer through PyAV
(``recorder.ffmpeg_source.FfmpegSource``: audio cameras, rtsps://, or by configuration); see
``CameraWorker.native``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from appliance.models.media import Gap
from appliance.recorder_state import CameraState
from appliance.settings import CameraConfig
from recorder.deps import WorkerDeps
from recorder.fanout import PacketFanout
from recorder.ffmpeg_source import FfmpegSource
from recorder.heartbeat import Heartbeat
from recorder.rtsp import RtspSource
from recorder.session import CameraCounters, RecordingSession
from recorder.source import PacketSource
from recorder.status import (
    FailReason,
    IngestError,
    classify_error,
    redact_credentials,
)

__all__ = ["FAILED_AFTER_S", "SLOW_RETRY_S", "CameraWorker", "WorkerDeps", "backoff_s"]

log = logging.getLogger(__name__)

SLOW_RETRY_S = 30.0
_FIRST_BACKOFF_S = 0.25
# A camera that recorded is "failed" (not merely "reconnecting") after this long away.
FAILED_AFTER_S = 60.0


def backoff_s(attempt: int, cap_s: float, reason: FailReason) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): doubling from 0.25 s, capped."""
    if reason.retry_slowly:
        return max(cap_s, SLOW_RETRY_S)
    return float(min(cap_s, _FIRST_BACKOFF_S * 2 ** min(attempt, 16)))


@dataclass(frozen=True)
class _Outcome:
    reason: FailReason
    detail: str
    recorded: bool = False
    last_end_ms: int | None = None


class CameraWorker:
    """Records one camera until ``stop``; see the module docstring."""

    def __init__(
        self,
        camera: CameraConfig,
        deps: WorkerDeps,
        *,
        audio_allowed: bool,
        open_gap_id: int | None = None,
        lease_epoch: int | None = None,
    ) -> None:
        self.camera = camera
        self.lease_epoch = lease_epoch
        self.deps = deps
        self.audio_allowed = audio_allowed
        self.fanout = PacketFanout()
        self._gap_id = open_gap_id
        self._stopping = threading.Event()
        self._mark_stopped = True
        self._thread = threading.Thread(target=self._run, name=f"rec-{camera.id}", daemon=True)
        self.sessions = 0
        self.counters = CameraCounters()
        # Progress for the systemd watchdog (recorder.heartbeat): every packet, connection
        # attempt and backoff second.
        self.heartbeat = Heartbeat()
        # Set when the native client met what only FFmpeg handles (recorder.rtsp.dts names
        # it: field-coded pictures, a reorder deeper than 16): for good.
        self.needs_ffmpeg = False
        # B-frames reordered deeper than the camera's SPS declares: the depth seen, for the
        # next native sessions (recorder.rtsp.dts).
        self.reorder_depth = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, mark_stopped: bool = True) -> None:
        """Ask the worker to finish its current segment and end (see ``join``). A camera
        handed to another node is not marked ``stopped``: that node's status is the one."""
        self._mark_stopped = mark_stopped
        self._stopping.set()

    def join(self, timeout_s: float | None = None) -> None:
        self._thread.join(timeout_s)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        attempt = 0
        recorded_ever = False
        down_since: float | None = None
        status = self.deps.status
        status.set(self.camera.id, CameraState.starting)
        while not self._stopping.is_set():
            self.heartbeat.beat()
            disk = self.deps.disk
            if disk is not None and disk.paused:
                # Below the recorder's disk floor: no connection, nothing written, one gap.
                status.set(self.camera.id, CameraState.failed, FailReason.disk_floor,
                           "the recorder's disk is at its free-space floor")  # fmt: skip
                try:
                    self._open_gap(FailReason.disk_floor)
                except Exception:
                    log.exception("camera %s: could not open its gap", self.camera.id)
                self._wait(1.0)
                continue
            try:
                outcome = self._session()
                if self._stopping.is_set():
                    break
                recorded_ever = recorded_ever or outcome.recorded
                now = self.deps.clock.monotonic()
                if outcome.recorded or down_since is None:
                    down_since = now
                attempt = 0 if outcome.recorded else attempt + 1
                reason, detail = outcome.reason, outcome.detail
                # A camera that was recording is "reconnecting" for a while; one that never
                # came up, refuses us, or stays away is "failed" (it needs attention).
                if recorded_ever and now - down_since < FAILED_AFTER_S and not reason.retry_slowly:
                    status.set(self.camera.id, CameraState.reconnecting, reason, detail)
                else:
                    status.set(self.camera.id, CameraState.failed, reason, detail)
                # The gap starts where the footage ends, not when the failure was noticed.
                self._open_gap(reason, outcome.last_end_ms)
            except Exception:
                # The database or the disk failed between sessions: the thread must survive
                # (the supervisor would otherwise start a second recorder beside this one).
                log.exception("camera %s: recorder loop error", self.camera.id)
                attempt += 1
                reason = FailReason.stream_error
            cap_s = self.deps.config.reconnect_max_backoff_s
            self._wait(backoff_s(attempt, cap_s, reason))
        if self._mark_stopped:
            status.set(self.camera.id, CameraState.stopped)

    def _wait(self, delay_s: float) -> None:
        """Back off for ``delay_s`` (or until stopped), beating every second: waiting for a
        camera that is away is progress, not a hang."""
        deadline = time.monotonic() + delay_s
        while not self._stopping.is_set():
            self.heartbeat.beat()
            left = deadline - time.monotonic()
            if left <= 0 or self._stopping.wait(min(left, 1.0)):
                return

    # -- one RTSP session --------------------------------------------------------------------

    @property
    def native(self) -> bool:
        """Read through recorder.rtsp (not FFmpeg): configured so, no audio to store, not TLS."""
        ingest = self.camera.ingest or self.deps.config.ingest
        return (
            ingest == "native"
            and not self.needs_ffmpeg
            and not self.audio_allowed
            and self.camera.url.lower().startswith("rtsp://")
        )

    def _source(self) -> PacketSource:
        timeout_s = self.deps.config.rtsp_timeout_s
        if self.native:
            return RtspSource(
                self.camera.url, timeout_s=timeout_s, reorder_depth=self.reorder_depth
            )
        return FfmpegSource(self.camera.url, timeout_s=timeout_s, audio=self.audio_allowed)

    def _session(self) -> _Outcome:
        """Connect and record until the stream ends, fails or a stop is asked for."""
        try:
            source = self._source()
            source.open()
        except Exception as exc:  # PyAV raises many kinds; classify them all
            return _Outcome(classify_error(exc, opening=True), str(exc))
        self.heartbeat.beat()
        self.sessions += 1
        session = RecordingSession(
            source, self.deps, camera_id=self.camera.id, fanout=self.fanout,
            counters=self.counters, on_recording=self._recording, lease_epoch=self.lease_epoch,
        )  # fmt: skip
        reason, detail = FailReason.none, "stopped"
        try:
            session.prepare()
            for packet in source.packets(audio=session.audio_stored):
                if self._stopping.is_set():
                    break
                self.heartbeat.beat()
                session.handle(packet)
            else:
                reason, detail = FailReason.stream_ended, "the camera ended the stream"
        except Exception as exc:
            reason, detail = classify_error(exc), str(exc)
            if isinstance(exc, IngestError) and exc.use_ffmpeg:
                log.warning("camera %s: %s", self.camera.id, exc)
                self.needs_ffmpeg = True
            elif isinstance(exc, IngestError) and exc.reorder_depth > self.reorder_depth:
                log.warning("camera %s: %s", self.camera.id, exc)
                self.reorder_depth = exc.reorder_depth
            elif reason is FailReason.stream_error:
                log.warning("camera %s: %s", self.camera.id, redact_credentials(str(exc)))
        finally:
            session.close(reason, detail)
            try:
                source.close()
            except Exception:
                log.debug("closing %s failed", self.camera.id, exc_info=True)
        return _Outcome(reason, detail, session.recorded, session.last_end_ms)

    def _recording(self, start_ms: int, run_id: int | None) -> None:
        """The session's first segment opened: the gap ends where its footage starts."""
        self._close_gap(start_ms)
        self.deps.status.set(self.camera.id, CameraState.recording, run_id=run_id)

    # -- gaps --------------------------------------------------------------------------------

    def _open_gap(self, reason: FailReason, start_ms: int | None = None) -> None:
        if self._gap_id is not None:
            return
        with self.deps.db.session() as db:
            gap = Gap(
                camera_id=self.camera.id,
                start_ms=start_ms if start_ms is not None else self.deps.clock.now_ms(),
                reason=reason.value,
            )
            db.add(gap)
            db.flush()
            self._gap_id = gap.id

    def _close_gap(self, end_ms: int) -> None:
        if self._gap_id is None:
            return
        with self.deps.db.session() as db:
            gap = db.get(Gap, self._gap_id)
            if gap is not None:
                gap.end_ms = max(end_ms, gap.start_ms)
                db.add(gap)
        self._gap_id = None
