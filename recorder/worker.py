"""One camera: RTSP session after RTSP session, packets into encrypted segments, never decoded.

A worker is a thread; it owns its camera's RTSP connection, current segment, run and gap rows
and status. Anything one camera does wrong (refuses, times out, sends garbage) ends at most
that worker's current session; the worker reconnects with a capped backoff.

The connection is the native client (``recorder.rtsp.RtspSource``) or FFmpeg's demuxer through
PyAV (audio cameras, rtsps://, or by configuration); both yield packets with the same
attributes, so a session is the same code either way (see ``CameraWorker.native``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import ApplianceError, MediaError
from appliance.media._nal import H264, H265, parameter_sets
from appliance.media.format import Sample, SegmentHead, StreamInfo
from appliance.media.mp4 import init_from_keyframe, init_from_stream
from appliance.models.media import MAX_SEGMENT_MS, Gap, Run
from appliance.recorder_state import CameraState
from appliance.settings import CameraConfig, RecorderConfig
from recorder.fanout import PacketFanout
from recorder.rtsp import RtspSource
from recorder.segments import OpenSegment, SegmentIndexer
from recorder.status import (
    FailReason,
    IngestError,
    StatusBoard,
    classify_error,
    redact_credentials,
)
from recorder.timeline import StreamTimeline, WallClockMap, should_cut
from recorder.vaultkey import VaultPublicKey

__all__ = ["FAILED_AFTER_S", "SLOW_RETRY_S", "CameraWorker", "WorkerDeps", "backoff_s"]

log = logging.getLogger(__name__)

SUPPORTED_CODECS = (H264, H265)
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
class WorkerDeps:
    """What every worker shares: the service's database, clock, key, indexer and status."""

    db: Database
    clock: Clock
    config: RecorderConfig
    segments_dir: Path
    vault_key: VaultPublicKey
    indexer: SegmentIndexer
    status: StatusBoard


@dataclass(frozen=True)
class _Outcome:
    reason: FailReason
    detail: str
    recorded: bool = False
    last_end_ms: int | None = None


class _SessionEnd(Exception):
    def __init__(self, reason: FailReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class CameraWorker:
    """Records one camera until ``stop``; see the module docstring."""

    def __init__(
        self,
        camera: CameraConfig,
        deps: WorkerDeps,
        *,
        audio_allowed: bool,
        open_gap_id: int | None = None,
    ) -> None:
        self.camera = camera
        self.deps = deps
        self.audio_allowed = audio_allowed
        self.fanout = PacketFanout()
        self._gap_id = open_gap_id
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rec-{camera.id}", daemon=True)
        self.sessions = 0
        self.segments = 0
        self.timestamp_jumps = 0
        self.bad_packets = 0
        self.damaged_frames = 0  # native ingest: frames dropped because RTP packets were lost
        # Set when the native client met what only FFmpeg handles (B-frames): for good.
        self.needs_ffmpeg = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the worker to finish its current segment and end (see ``join``)."""
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
            self._stopping.wait(backoff_s(attempt, cap_s, reason))
        status.set(self.camera.id, CameraState.stopped)

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

    def _open(self) -> Any:
        timeout_s = self.deps.config.rtsp_timeout_s
        if self.native:
            return RtspSource(self.camera.url, timeout_s=timeout_s)
        options = {
            "rtsp_transport": "tcp",
            "timeout": str(int(timeout_s * 1_000_000)),
            # The SDP and the first key frame give the parameters: probe briefly (faster
            # reconnects, and less memory held per camera).
            "analyzeduration": "1000000",
            "probesize": "1000000",
        }
        if not self.audio_allowed:
            # Audio is never even set up, let alone stored (R-REC-3).
            options["allowed_media_types"] = "video"
        # PyAV's own timeout covers opening only: as a read timeout its interrupt callback
        # takes the GIL on every socket read (measured: ~15% more CPU for 30 cameras). Reads
        # are bounded by FFmpeg's socket timeout above, in C.
        return av.open(self.camera.url, options=options, timeout=(timeout_s, None))

    def _session(self) -> _Outcome:
        """Connect and record until the stream ends, fails or a stop is asked for."""
        try:
            container = self._open()
        except Exception as exc:  # PyAV raises many kinds; classify them all
            return _Outcome(classify_error(exc, opening=True), str(exc))
        self.sessions += 1
        session = _Session(self, container)
        reason, detail = FailReason.none, "stopped"
        try:
            session.prepare()
            for packet in container.demux(*session.streams):
                if self._stopping.is_set():
                    break
                session.handle(packet)
            else:
                reason, detail = FailReason.stream_ended, "the camera ended the stream"
        except _SessionEnd as end:
            reason, detail = end.reason, str(end)
        except Exception as exc:
            reason, detail = classify_error(exc), str(exc)
            if isinstance(exc, IngestError) and exc.use_ffmpeg:
                log.warning("camera %s: %s", self.camera.id, exc)
                self.needs_ffmpeg = True
            elif reason is FailReason.stream_error:
                log.warning("camera %s: %s", self.camera.id, redact_credentials(str(exc)))
        finally:
            session.close(reason, detail)
            try:
                container.close()
            except Exception:
                log.debug("closing %s failed", self.camera.id, exc_info=True)
        return _Outcome(reason, detail, session.recorded, session.last_end_ms)

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


_Held = tuple[bytes, int, int, bool]  # data, pts, dts, key


class _Session:
    """The state of one RTSP session (one ``recording_run`` row)."""

    def __init__(self, worker: CameraWorker, container: Any) -> None:
        self.worker = worker
        self.deps = worker.deps
        self.container = container
        self.camera_id = worker.camera.id
        self.streams: list[Any] = []
        self.recorded = False
        self.run_id: int | None = None
        self._segment: OpenSegment | None = None
        self._held_video: _Held | None = None  # written when its successor gives its duration
        self._held_audio: _Held | None = None
        self._end_ts = 0  # end of the last written video sample (pts + duration)
        self._segment_start_ts = 0
        self._max_segment_ts = 0  # MAX_SEGMENT_MS in the video time base (set in prepare)
        self._wall: WallClockMap | None = None
        self._params: bytes | None = None
        self._infos: tuple[StreamInfo, ...] = ()
        self._last_end_ms: int | None = None
        self._target_ms = self.deps.config.segment_target_s * 1000
        self.vtimeline = StreamTimeline(Fraction(1, 90_000))  # replaced in prepare()

    def prepare(self) -> None:
        videos = self.container.streams.video
        if not videos:
            raise _SessionEnd(FailReason.no_video, "the stream has no video track")
        video = videos[0]
        self.codec = str(video.codec_context.name)
        if self.codec not in SUPPORTED_CODECS:
            raise _SessionEnd(
                FailReason.unsupported_codec, f"video codec {self.codec} is not H.264/H.265"
            )
        self.video = video
        self.video_tb = Fraction(video.time_base)
        self.vtimeline = StreamTimeline(self.video_tb)
        self._max_segment_ts = int(Fraction(MAX_SEGMENT_MS, 1000) / self.video_tb)
        self.streams = [video]
        self.audio = None
        self._audio_info: StreamInfo | None = None
        audios = self.container.streams.audio
        if self.worker.audio_allowed and audios:
            audio = audios[0]
            try:
                self._audio_info = StreamInfo(
                    index=1,
                    kind="audio",
                    codec=str(audio.codec_context.name),
                    time_base_num=audio.time_base.numerator,
                    time_base_den=audio.time_base.denominator,
                    sample_rate=int(audio.codec_context.sample_rate or 0),
                    init=init_from_stream(audio),
                )
                self.audio = audio
                self.atimeline = StreamTimeline(Fraction(audio.time_base), max_step_s=5.0)
                self.streams.append(audio)
            except MediaError as exc:
                log.warning("camera %s: audio not stored: %s", self.camera_id, exc)
        ctx = video.codec_context
        with self.deps.db.session() as db:
            run = Run(
                camera_id=self.camera_id,
                started_ms=self.deps.clock.now_ms(),
                codec=self.codec,
                width=int(ctx.width or 0),
                height=int(ctx.height or 0),
            )
            db.add(run)
            db.flush()
            self.run_id = run.id

    # -- packets -----------------------------------------------------------------------------

    def handle(self, packet: Any) -> None:
        if packet.size == 0 or (packet.dts is None and packet.pts is None):
            return  # demuxer flush packets carry nothing
        try:
            if packet.stream_index == self.video.index:
                self._video(packet)
            elif self.audio is not None and packet.stream_index == self.audio.index:
                self._audio(packet)
        except (MediaError, ValueError, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, av.FFmpegError):
                raise  # the disk, not the packet: end the session and retry
            self.worker.bad_packets += 1
            log.debug("camera %s: packet skipped: %s", self.camera_id, exc)

    # The per-packet path is kept lean (plain tuples, integer time arithmetic, the wall clock
    # and the system clock read on key frames only): it runs ~25 times a second per camera.

    def _video(self, packet: Any) -> None:
        is_key = packet.is_keyframe
        if self._segment is None and not is_key:
            return  # nothing decodable before the first key frame
        data = bytes(packet)
        pts, dts = self.vtimeline.normalize(packet.pts, packet.dts)
        if is_key:
            self._key_frame(data, pts, dts)
        else:
            held = self._held_video
            if held is not None:
                self._write_video(held, dts - held[2])
            if pts + self.vtimeline.typical_step - self._segment_start_ts > self._max_segment_ts:
                # No key frame for MAX_SEGMENT_MS: close the segment (readers bound their range
                # queries by that length) and skip to the next key frame.
                self._held_video = None
                self._flush_audio()
                self._finish_segment()
                return
        self._held_video = (data, pts, dts, is_key)
        fanout = self.worker.fanout
        if fanout.subscribers and self._wall is not None:
            fanout.publish(Sample(0, data, pts, dts, 0, is_key, self._wall.wall_ms(pts)))

    def _key_frame(self, data: bytes, pts: int, dts: int) -> None:
        changed = False
        params = parameter_sets(self.codec, data)
        if self._params is None or (params and params != self._params):
            changed = self._params is not None
            self._new_streams(data, params)
        now = self.deps.clock.now_ms()
        if self._wall is None:
            self._wall = WallClockMap(now, pts, self.video_tb)
        wall_ms = self._wall.wall_ms(pts)
        segment = self._segment
        held = self._held_video
        if held is not None:
            self._write_video(held, dts - held[2])
            self._held_video = None
        if segment is None:
            self._open_segment(pts)
        elif should_cut(
            is_key=True,
            segment_start_ms=segment.head.start_ms,
            sample_wall_ms=wall_ms,
            target_ms=self._target_ms,
            parameters_changed=changed,
        ):
            self._flush_audio()
            self._finish_segment(wall_ms)
            self._wall = self._wall.reanchored(pts, now, self._last_end_ms or 0)
            self._open_segment(pts)

    def _audio(self, packet: Any) -> None:
        segment = self._segment
        if segment is None:
            return
        pts, dts = self.atimeline.normalize(packet.pts, packet.dts)
        held = self._held_audio
        if held is not None:
            duration = dts - held[2]
            segment.writer.add_raw(1, held[0], held[1], held[2], duration, False)
        data = bytes(packet)
        self._held_audio = (data, pts, dts, False)
        if self.worker.fanout.subscribers:
            wall_ms = segment.head.wall_ms(1, pts)
            self.worker.fanout.publish(Sample(1, data, pts, dts, 0, False, wall_ms))

    def _new_streams(self, key_frame: bytes, params: bytes) -> None:
        """Build the MP4 init from the key frame's own parameter sets (or the SDP's)."""
        ctx = self.video.codec_context
        init, width, height = b"", int(ctx.width or 0), int(ctx.height or 0)
        if params:
            try:
                init, width, height = init_from_keyframe(self.codec, key_frame)
            except MediaError as exc:
                log.warning("camera %s: %s; using the session's parameters", self.camera_id, exc)
        if not init:
            if isinstance(self.container, RtspSource):
                raise MediaError("a key frame without parameter sets, and none in the SDP")
            init = init_from_stream(self.video)
        self._params = params
        video_info = StreamInfo(
            index=0,
            kind="video",
            codec=self.codec,
            time_base_num=self.video_tb.numerator,
            time_base_den=self.video_tb.denominator,
            width=width,
            height=height,
            init=init,
        )
        self._infos = (video_info,) if self._audio_info is None else (video_info, self._audio_info)
        self.worker.fanout.set_streams(self._infos)

    # -- segments ----------------------------------------------------------------------------

    def _write_video(self, held: _Held, duration: int) -> None:
        segment = self._segment
        if segment is None:
            return
        data, pts, dts, is_key = held
        if duration <= 0:
            duration = self.vtimeline.typical_step
        segment.writer.add_raw(0, data, pts, dts, duration, is_key)
        segment.frames += 1
        if is_key:
            segment.key_frames += 1
        end_ts = pts + duration
        if end_ts > self._end_ts:
            self._end_ts = end_ts

    def _flush_audio(self) -> None:
        held, self._held_audio = self._held_audio, None
        segment = self._segment
        if held is not None and segment is not None:
            segment.writer.add_raw(1, held[0], held[1], held[2], self.atimeline.typical_step, False)

    def _open_segment(self, pts: int) -> None:
        assert self._wall is not None
        head = SegmentHead(
            camera_id=self.camera_id,
            start_ms=self._wall.wall_ms(pts),
            anchor_wall_ms=self._wall.anchor_wall_ms,
            anchor_ts=self._wall.anchor_ts,
            streams=self._infos,
        )
        vault_key_id, public_key = self.deps.vault_key.current()
        self._segment = OpenSegment(
            self.deps.segments_dir,
            head,
            run_id=self.run_id,
            vault_key_id=vault_key_id,
            public_key=public_key,
        )
        self._end_ts = pts
        self._segment_start_ts = pts
        if not self.recorded:
            self.recorded = True
            self.worker._close_gap(head.start_ms)
            self.deps.status.set(self.camera_id, CameraState.recording, run_id=self.run_id)

    def _finish_segment(self, end_ms: int | None = None) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        if segment.frames == 0:
            segment.abort()
            return
        if end_ms is None:
            end_ms = segment.head.wall_ms(0, self._end_ts)
        try:
            finished = segment.finish(end_ms)
        except (OSError, ApplianceError):
            segment.abort()
            raise
        self._last_end_ms = finished.summary.end_ms
        self.worker.segments += 1
        self.deps.indexer.submit(finished)

    @property
    def last_end_ms(self) -> int | None:
        return self._last_end_ms

    def close(self, reason: FailReason, detail: str) -> None:
        """End of the session: the current segment is finished and indexed, the run closed."""
        try:
            held, self._held_video = self._held_video, None
            if held is not None:
                self._write_video(held, 0)
            self._flush_audio()
            self._finish_segment()
        except Exception:
            log.exception("camera %s: could not finish its last segment", self.camera_id)
            if self._segment is not None:
                self._segment.abort()
                self._segment = None
        self.worker.timestamp_jumps += self.vtimeline.jumps
        reader = self.container.reader if isinstance(self.container, RtspSource) else None
        if reader is not None:
            self.worker.bad_packets += reader.bad_packets
            self.worker.damaged_frames += reader.damaged_units
            if reader.damaged_units or reader.bad_packets:
                log.warning(
                    "camera %s: %d frames dropped (RTP packets missing), %d bad RTP packets",
                    self.camera_id, reader.damaged_units, reader.bad_packets,
                )  # fmt: skip
        if self.run_id is not None:
            with self.deps.db.session() as db:
                run = db.get(Run, self.run_id)
                if run is not None:
                    run.ended_ms = self._last_end_ms or self.deps.clock.now_ms()
                    if not run.width and self._infos:  # the native client learns it late
                        run.width, run.height = self._infos[0].width, self._infos[0].height
                    suffix = f": {redact_credentials(detail)}"[:150] if reason else ""
                    run.end_reason = (reason.value or "stopped") + suffix
                    db.add(run)
