"""Live view: the recorder's packets, remuxed (never decoded) into fragmented MP4 as they come.

The recorder publishes each camera's samples on a fan-out (``recorder.fanout.PacketFanout``);
``LiveHub`` is where the API finds it. Under ``appliance run`` the recorder and the API share
one process and one ``AppContext``, so the recorder attaches itself to ``ctx.live`` and the
API subscribes. A viewer starts at once from the fan-out's cached GOP (the last key frame and
what followed it), then plays on into live; without a cache (a GOP too large to keep) it
starts at the next key frame. Fragments close every key frame and at least every
``FRAGMENT_MS`` (so latency stays well under the GOP length).

Timestamps: the output is rebased so its first (cached) key frame is at 0, and the frames that
follow, cached or live, keep the camera's own spacing: the player gets the GOP in one burst
and plays smoothly into live (the page jumps to near the newest picture when it lags).
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

import av

from appliance.errors import MediaError, NotFound
from appliance.media._nal import annexb_to_length_prefixed
from appliance.media.format import Sample, StreamInfo
from appliance.media.mp4 import FragmentSink, open_fmp4

__all__ = [
    "FRAGMENT_MS",
    "LiveFeed",
    "LiveHub",
    "LiveSource",
    "LiveSubscription",
    "live_fmp4",
]

FRAGMENT_MS = 500
_LENGTH_PREFIXED = frozenset({"h264", "hevc"})


class LiveSubscription(Protocol):
    """One subscriber's queue (``recorder.fanout.Subscription``)."""

    dropped: int

    def get(self, timeout: float | None = None) -> Sample | None: ...

    def close(self) -> None: ...


class LiveFeed(Protocol):
    """One camera's live samples (``recorder.fanout.PacketFanout``)."""

    @property
    def streams(self) -> tuple[StreamInfo, ...]: ...

    def subscribe(self, maxsize: int = 256) -> LiveSubscription: ...


class LiveSource(Protocol):
    """What the recorder service offers: a camera's feed (NotFound if not recording)."""

    def fanout(self, camera_id: str) -> LiveFeed: ...


class LiveHub:
    """The process's live sources (the recorder attaches itself when it starts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: list[LiveSource] = []

    def attach(self, source: LiveSource) -> None:
        with self._lock:
            self._sources.append(source)

    def detach(self, source: LiveSource) -> None:
        with self._lock:
            self._sources = [s for s in self._sources if s is not source]

    def feed(self, camera_id: str) -> LiveFeed:
        """The live feed of ``camera_id``; NotFound when no recorder here records it."""
        with self._lock:
            sources = list(self._sources)
        for source in sources:
            with contextlib.suppress(NotFound):
                return source.fanout(camera_id)
        raise NotFound(f"camera {camera_id!r} is not live on this node")


class _LiveMuxer:
    def __init__(self, video: StreamInfo) -> None:
        if not video.init:
            raise MediaError("the live stream has no MP4 init yet")
        self.video = video
        self._sink = FragmentSink()
        self._template = av.open(io.BytesIO(video.init))
        self._out = open_fmp4(self._sink, frag_duration_ms=FRAGMENT_MS)
        self._stream = self._out.add_stream_from_template(self._template.streams.video[0])
        self._shift: int | None = None
        self._last_dts: int | None = None

    def header(self) -> bytes:
        self._out.start_encoding()
        return self._sink.take()

    def feed(self, sample: Sample) -> bytes:
        if self._shift is None:
            self._shift = -sample.dts
        pts, dts = sample.pts + self._shift, sample.dts + self._shift
        if self._last_dts is not None and dts <= self._last_dts:
            # A timestamp jump backwards (camera reconnect): keep decode times increasing.
            self._shift += self._last_dts + 1 - dts
            pts, dts = pts + self._last_dts + 1 - dts, self._last_dts + 1
        self._last_dts = dts
        data = sample.data
        if self.video.codec in _LENGTH_PREFIXED:
            data = annexb_to_length_prefixed(data)
        packet = av.Packet(data)
        packet.pts, packet.dts = pts, dts
        packet.duration = sample.duration
        packet.time_base = self.video.time_base
        packet.is_keyframe = sample.is_key
        packet.stream = self._stream
        self._out.mux(packet)
        return self._sink.take()

    def close(self) -> None:
        for container in (self._out, self._template):
            with contextlib.suppress(av.FFmpegError, ValueError):
                container.close()


def _resync(
    subscription: LiveSubscription, keep_going: Callable[[], bool], wait_s: float
) -> Sample | None:
    """The next video key frame after emptying the queue, with nothing lost since (or None)."""
    while keep_going():
        subscription.dropped = 0
        while subscription.get(timeout=0) is not None:
            pass
        sample = subscription.get(timeout=wait_s)
        while sample is not None and not (sample.stream_index == 0 and sample.is_key):
            if not keep_going():
                return None
            sample = subscription.get(timeout=wait_s)
        if sample is not None and not subscription.dropped:
            return sample
    return None


def live_fmp4(
    feed: LiveFeed,
    *,
    keep_going: Callable[[], bool],
    on_sample: Callable[[Sample], None] | None = None,
    on_start: Callable[[Sample], None] | None = None,
    wait_s: float = 0.5,
    first_key_timeout_s: float = 10.0,
) -> Iterator[bytes]:
    """A fragmented MP4 of the feed from its cached (or next) key frame, until ``keep_going()``
    is false. ``on_start`` is told that key frame before the first byte (the span's start).

    ``keep_going`` is asked about every ``wait_s`` seconds (session ended or expired, client
    gone). A viewer that fell behind (samples dropped) resumes at the next key frame; a change
    of codec parameters ends the stream (the player reopens it with the new init).
    """
    subscription = feed.subscribe()
    muxer: _LiveMuxer | None = None
    waited_s = 0.0
    try:
        while keep_going():
            sample = subscription.get(timeout=wait_s)
            if sample is None:
                waited_s += wait_s
                if muxer is None and waited_s >= first_key_timeout_s:
                    raise NotFound("the camera sends nothing right now")
                continue
            if sample.stream_index != 0:
                continue
            streams = feed.streams
            if muxer is None:
                if not sample.is_key or not streams:
                    continue
                muxer = _LiveMuxer(streams[0])
                if on_start is not None:
                    on_start(sample)
                yield muxer.header()
            elif streams and streams[0] != muxer.video:
                return
            if subscription.dropped:
                # Fell behind: samples were lost after the ones still queued. Drop the queue and
                # start again at a fresh key frame rather than show broken pictures.
                sample = _resync(subscription, keep_going, wait_s)
                if sample is None:
                    return
            data = muxer.feed(sample)
            if on_sample is not None:
                on_sample(sample)
            if data:
                yield data
    except av.FFmpegError as exc:
        raise MediaError(f"live muxing failed: {exc}") from exc
    finally:
        subscription.close()
        if muxer is not None:
            muxer.close()
