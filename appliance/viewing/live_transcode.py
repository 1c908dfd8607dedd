"""Live view of H.265 cameras for browsers that cannot play H.265: one shared H.264 encoder.

Debian's Chromium has no H.265 decoder, so a live H.265 camera is decoded with PyAV and
re-encoded with libx264 (``tune=zerolatency``: no look-ahead, no B-frames) on the fly. The
cost is bounded: ``LiveTranscodes`` runs at most one encoder per camera, shared by all its
viewers (each subscribes to the encoder's own ``PacketFanout``, which keeps the encoded GOP
too), counted as one of the box's ``viewing.transcodes_per_box`` while it runs, and stopped
when its last viewer leaves.

A new encoder starts from the camera's cached GOP: the cached frames are decoded (a picture
needs its key frame) but only the newest is encoded, as the first H.264 key frame, so the first
picture comes at once and the output is as live as the camera.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av

from appliance.media._nal import annexb_to_length_prefixed
from appliance.media.format import Sample, StreamInfo
from appliance.media.mp4 import init_from_keyframe
from appliance.viewing.fanout import PacketFanout
from appliance.viewing.live import LiveFeed, LiveSubscription

__all__ = ["ENCODER_OPTIONS", "LiveTranscoder", "LiveTranscodes", "TranscodeLease"]

log = logging.getLogger(__name__)

ENCODER_OPTIONS = {"preset": "veryfast", "tune": "zerolatency"}
GOP_S = 2  # an H.264 key frame every two seconds (a player that fell behind resumes there)
_LENGTH_PREFIXED = frozenset({"h264", "hevc"})


class _Decoder:
    def __init__(self, info: StreamInfo) -> None:
        self.info = info
        with av.open(io.BytesIO(info.init)) as template:
            stream = template.streams.video[0]
            self.context: Any = av.CodecContext.create(stream.codec_context.name, "r")
            self.context.extradata = stream.codec_context.extradata
        # No frame threads: each would hold a picture back (latency), slice threads do not.
        self.context.thread_type = "SLICE"

    def decode(self, sample: Sample) -> list[Any]:
        data = sample.data
        if self.info.codec in _LENGTH_PREFIXED:
            data = annexb_to_length_prefixed(data)
        packet = av.Packet(data)
        packet.pts, packet.dts = sample.pts, sample.dts
        packet.time_base = self.info.time_base
        return list(self.context.decode(packet))


class LiveTranscoder:
    """One camera's H.265 -> H.264 encoder thread; viewers ``subscribe`` to its output."""

    def __init__(self, camera_id: str, source: LiveFeed) -> None:
        self.camera_id = camera_id
        self.source = source
        self.output = PacketFanout()
        self.encoded = 0  # frames encoded (for tests and the benchmark)
        self._subscription: LiveSubscription = source.subscribe(maxsize=256)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"live-transcode-{camera_id}", daemon=True
        )
        self._thread.start()

    @property
    def streams(self) -> tuple[StreamInfo, ...]:
        return self.output.streams

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def subscribe(self, maxsize: int = 256) -> LiveSubscription:
        return self.output.subscribe(maxsize)

    def stop(self, wait_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(wait_s)
        self._subscription.close()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # a broken stream ends this encoder; its viewers see no new picture
            log.exception("camera %s: live transcoding stopped", self.camera_id)
        finally:
            self._subscription.close()

    def _loop(self) -> None:
        subscription = self._subscription
        # The cached GOP is decoded; all but its newest frame are skipped, not encoded.
        backlog = max(0, getattr(subscription, "cached", 0) - 1)
        skip: set[int] = set()
        wall: dict[int, int] = {}
        decoder: _Decoder | None = None
        encoder: Any = None
        while not self._stop.is_set():
            sample = subscription.get(timeout=0.5)
            if sample is None or sample.stream_index != 0:
                continue
            if backlog:
                backlog -= 1
                skip.add(sample.pts)
            streams = self.source.streams
            if not streams:
                continue
            if subscription.dropped or decoder is None or decoder.info != streams[0]:
                # Start (again) at a key frame: after a loss or new parameters.
                if not sample.is_key:
                    continue
                subscription.dropped = 0
                decoder, encoder = _Decoder(streams[0]), None
                wall.clear()
            wall[sample.pts] = sample.wall_ms
            for frame in decoder.decode(sample):
                wall_ms = wall.pop(frame.pts, sample.wall_ms)
                if frame.pts in skip:
                    skip.discard(frame.pts)
                    continue
                if encoder is None:
                    encoder = self._encoder(frame, decoder.info)
                self._encode(encoder, frame, decoder.info, wall_ms)

    def _encoder(self, frame: Any, info: StreamInfo) -> Any:
        rate = Fraction(25)  # only a hint for rate control: timestamps are the camera's
        encoder: Any = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height = frame.width, frame.height
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = info.time_base
        encoder.framerate = rate
        encoder.gop_size = int(rate * GOP_S)
        encoder.max_b_frames = 0
        encoder.options = dict(ENCODER_OPTIONS)
        return encoder

    def _encode(self, encoder: Any, frame: Any, info: StreamInfo, wall_ms: int) -> None:
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        for packet in encoder.encode(frame):
            data = bytes(packet)
            if packet.is_keyframe:
                self._new_init(data, info)
            self.output.publish(
                Sample(0, data, packet.pts, packet.dts, 0, packet.is_keyframe, wall_ms)
            )
            self.encoded += 1

    def _new_init(self, key_frame: bytes, info: StreamInfo) -> None:
        # x264 without a global header repeats SPS/PPS before every key frame: the init is
        # read from there, exactly as the recorder reads a camera's.
        init, width, height = init_from_keyframe("h264", key_frame)
        streams = (
            StreamInfo(
                0, "video", "h264", info.time_base_num, info.time_base_den, width, height, init=init
            ),
        )
        self.output.set_streams(streams)  # unchanged parameters keep the cached GOP


class TranscodeLease:
    """One viewer's share of a camera's encoder; ``release`` is idempotent."""

    def __init__(self, feed: LiveTranscoder, release: Callable[[], None]) -> None:
        self.feed = feed
        self._release = release
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._release()


class LiveTranscodes:
    """The running encoders, one per camera; ``take_transcode`` holds one of the box's
    transcodes while an encoder runs (it raises ``RateLimited`` when none is free)."""

    def __init__(self, take_transcode: Callable[[], Callable[[], None]]) -> None:
        self._take_transcode = take_transcode
        self._lock = threading.Lock()
        self._running: dict[str, tuple[LiveTranscoder, Callable[[], None], list[int]]] = {}

    def acquire(self, camera_id: str, source: LiveFeed) -> TranscodeLease:
        """A share of ``camera_id``'s encoder, started if none runs for this source."""
        stale: LiveTranscoder | None = None
        with self._lock:
            entry = self._running.get(camera_id)
            if entry is not None and (entry[0].source is not source or not entry[0].running):
                stale = entry[0]  # the recorder restarted the camera, or the encoder broke
                entry[1]()
                del self._running[camera_id]
                entry = None
            if entry is None:
                free = self._take_transcode()
                try:
                    entry = (LiveTranscoder(camera_id, source), free, [0])
                except BaseException:
                    free()
                    raise
                self._running[camera_id] = entry
            entry[2][0] += 1
            transcoder = entry[0]
        if stale is not None:
            stale.stop()
        return TranscodeLease(transcoder, lambda: self._release(camera_id, transcoder))

    def _release(self, camera_id: str, transcoder: LiveTranscoder) -> None:
        with self._lock:
            entry = self._running.get(camera_id)
            if entry is None or entry[0] is not transcoder:
                return
            entry[2][0] -= 1
            if entry[2][0] > 0:
                return
            del self._running[camera_id]
            entry[1]()
        transcoder.stop()

    def encoders(self) -> dict[str, int]:
        """Camera -> viewers, for each running encoder (tests, status, the benchmark)."""
        with self._lock:
            return {camera: entry[2][0] for camera, entry in self._running.items()}

    def stop_all(self) -> None:
        with self._lock:
            entries = list(self._running.values())
            self._running.clear()
        for transcoder, free, _ in entries:
            free()
            transcoder.stop()
