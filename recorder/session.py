"""One connection's recording session: packets in, encrypted segments out, never decoded.

A session lives from connecting to the end of the stream (one ``recording_run`` row). It reads a
``recorder.source.PacketSource`` (the native RTSP client or FFmpeg), cuts segments at key frames
(``recorder.timeline``), writes them through ``recorder.segments`` and publishes each sample on
the camera's live fan-out. The worker (``recorder.worker``) opens the source, feeds the session
and decides what happens when it ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import av

from appliance.errors import ApplianceError, MediaError
from appliance.health.counters import add_dropped_frames
from appliance.media._nal import H264, H265, parameter_sets
from appliance.media.format import Sample, SegmentHead, StreamInfo
from appliance.media.mp4 import init_from_keyframe
from appliance.models.media import MAX_SEGMENT_MS, Run
from recorder.fanout import PacketFanout
from recorder.segments import OpenSegment
from recorder.source import AudioTrack, Packet, PacketSource, StreamKind
from recorder.status import FailReason, IngestError, redact_credentials
from recorder.timeline import StreamTimeline, WallClockMap, should_cut

if TYPE_CHECKING:
    from recorder.deps import WorkerDeps

__all__ = ["SUPPORTED_CODECS", "CameraCounters", "RecordingSession"]

log = logging.getLogger(__name__)

SUPPORTED_CODECS = (H264, H265)
_VIDEO = StreamKind.video


@dataclass
class CameraCounters:
    """One camera's totals over its sessions (logged and read by the tests)."""

    segments: int = 0
    timestamp_jumps: int = 0
    bad_packets: int = 0  # packets skipped (unusable) plus the native client's bad RTP packets
    damaged_frames: int = 0  # native ingest: frames dropped because RTP packets were lost


_Held = tuple[bytes, int, int, bool]  # data, pts, dts, key


class RecordingSession:
    """The state of one connection (one ``recording_run`` row); see the module docstring.

    ``on_recording(start_ms, run_id)`` is called once, when the first segment opens.
    """

    def __init__(
        self,
        source: PacketSource,
        deps: WorkerDeps,
        *,
        camera_id: str,
        fanout: PacketFanout,
        counters: CameraCounters,
        on_recording: Callable[[int, int | None], None],
        lease_epoch: int | None = None,
    ) -> None:
        self.source = source
        self.lease_epoch = lease_epoch
        self.deps = deps
        self.camera_id = camera_id
        self.fanout = fanout
        self.counters = counters
        self._on_recording = on_recording
        self.audio_stored = False
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
        self._audio_info: StreamInfo | None = None  # set in prepare() when audio is stored
        self._last_end_ms: int | None = None
        self._dropped_stored = 0  # of source.dropped_frames, already in camera_day_counter
        self._target_ms = self.deps.config.segment_target_s * 1000
        self.vtimeline = StreamTimeline(Fraction(1, 90_000))  # replaced in prepare()

    def prepare(self) -> None:
        """Read the source's tracks and open the run; IngestError for what cannot be recorded."""
        video = self.source.video_track()
        self.codec = video.codec
        if self.codec not in SUPPORTED_CODECS:
            raise IngestError(
                FailReason.unsupported_codec, f"video codec {self.codec} is not H.264/H.265"
            )
        self.video = video
        self.video_tb = video.time_base
        self.vtimeline = StreamTimeline(self.video_tb)
        self._max_segment_ts = int(Fraction(MAX_SEGMENT_MS, 1000) / self.video_tb)
        try:
            audio = self.source.audio_track()
        except MediaError as exc:
            log.warning("camera %s: audio not stored: %s", self.camera_id, exc)
            audio = None
        if audio is not None:
            self._audio_info = _audio_info(audio)
            self.atimeline = StreamTimeline(audio.time_base, max_step_s=5.0)
            self.audio_stored = True
        with self.deps.db.session() as db:
            run = Run(
                camera_id=self.camera_id,
                started_ms=self.deps.clock.now_ms(),
                codec=self.codec,
                width=video.width,
                height=video.height,
            )
            db.add(run)
            db.flush()
            self.run_id = run.id

    # -- packets -----------------------------------------------------------------------------

    def handle(self, packet: Packet) -> None:
        try:
            if packet.kind is _VIDEO:
                self._video(packet)
            elif self.audio_stored:
                self._audio(packet)
        except (MediaError, ValueError, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, av.FFmpegError):
                raise  # the disk, not the packet: end the session and retry
            self.counters.bad_packets += 1
            log.debug("camera %s: packet skipped: %s", self.camera_id, exc)

    # The per-packet path is kept lean (plain tuples, integer time arithmetic, the wall clock
    # and the system clock read on key frames only): it runs ~25 times a second per camera.

    def _video(self, packet: Packet) -> None:
        is_key = packet.key_frame
        if self._segment is None and not is_key:
            return  # nothing decodable before the first key frame
        data = packet.data
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
        fanout = self.fanout
        if fanout.wanted and self._wall is not None:  # the GOP is kept for live viewers
            fanout.publish(Sample(0, data, pts, dts, 0, is_key, self._wall.wall_ms(pts)))

    def _key_frame(self, data: bytes, pts: int, dts: int) -> None:
        disk = self.deps.disk
        if disk is not None and disk.paused:
            # The recorder's disk floor (recorder.diskguard): end here, at a key frame, rather
            # than write one more segment; the worker waits for space without reconnecting.
            raise IngestError(FailReason.disk_floor, "the recorder's disk is at its floor")
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

    def _audio(self, packet: Packet) -> None:
        segment = self._segment
        if segment is None:
            return
        pts, dts = self.atimeline.normalize(packet.pts, packet.dts)
        held = self._held_audio
        if held is not None:
            duration = dts - held[2]
            segment.writer.add_raw(1, held[0], held[1], held[2], duration, False)
        data = packet.data
        self._held_audio = (data, pts, dts, False)
        if self.fanout.subscribers:
            wall_ms = segment.head.wall_ms(1, pts)
            self.fanout.publish(Sample(1, data, pts, dts, 0, False, wall_ms))

    def _new_streams(self, key_frame: bytes, params: bytes) -> None:
        """Build the MP4 init from the key frame's own parameter sets (or the SDP's)."""
        init, width, height = b"", self.video.width, self.video.height
        if params:
            try:
                init, width, height = init_from_keyframe(self.codec, key_frame)
            except MediaError as exc:
                log.warning("camera %s: %s; using the session's parameters", self.camera_id, exc)
        if not init:
            init = self.source.fallback_init()
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
        self.fanout.set_streams(self._infos)

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
            self._on_recording(head.start_ms, self.run_id)

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
        finished.lease_epoch = self.lease_epoch
        self._last_end_ms = finished.summary.end_ms
        self.counters.segments += 1
        self.deps.indexer.submit(finished)
        self._store_dropped()

    def _store_dropped(self) -> None:
        """Add the frames dropped since the last call to today's counter (the health page)."""
        dropped = self.source.dropped_frames - self._dropped_stored
        if dropped <= 0:
            return
        self._dropped_stored += dropped
        try:
            with self.deps.db.session() as db:
                add_dropped_frames(
                    db, self.camera_id, dropped, self.deps.clock.now_ms(), self.deps.zone
                )
        except Exception:
            # A counter must never stop recording.
            log.exception("camera %s: could not store the dropped-frame count", self.camera_id)

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
        counters = self.counters
        counters.timestamp_jumps += self.vtimeline.jumps
        dropped, bad = self.source.dropped_frames, self.source.bad_packets
        counters.bad_packets += bad
        counters.damaged_frames += dropped
        self._store_dropped()
        if dropped or bad:
            log.warning(
                "camera %s: %d frames dropped (RTP packets missing), %d bad RTP packets",
                self.camera_id, dropped, bad,
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


def _audio_info(audio: AudioTrack) -> StreamInfo:
    return StreamInfo(
        index=1,
        kind="audio",
        codec=audio.codec,
        time_base_num=audio.time_base.numerator,
        time_base_den=audio.time_base.denominator,
        sample_rate=audio.sample_rate,
        init=audio.init,
    )
