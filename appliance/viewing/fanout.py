"""One camera's live samples, fanned out to subscribers, with its current GOP kept for a start.

The publisher (the recorder, or a live transcoder) never waits for a subscriber: each has a
bounded queue and a sample that does not fit is dropped (and counted) for that subscriber only.
A viewer that falls behind resumes at the next key frame (``Sample.is_key``).

The fan-out keeps the video samples since the last key frame (the current GOP), so a new
subscriber starts with that key frame at once instead of waiting up to a GOP for the next one.
The cache is bounded: a GOP larger than ``max_gop_bytes`` is dropped (the viewer then waits
for the next key frame, as without a cache), and a change of codec parameters empties it.
It is handed over atomically with the subscription: nothing is lost or doubled in between.
"""

from __future__ import annotations

import queue
import threading

from appliance.media.format import Sample, StreamInfo

__all__ = ["MAX_GOP_BYTES", "PacketFanout", "Subscription"]

# A 4 Mbit/s camera with a 2 s GOP keeps about 1 MB; past this the cache is dropped (a camera
# with a very long GOP, or a burst), so 30 cameras never hold more than 30 x this.
MAX_GOP_BYTES = 4 * 1024 * 1024


class Subscription:
    """One subscriber's queue. Iterate with ``get``; call ``close`` (or the fanout's
    ``unsubscribe``) when done. ``cached`` is how many queued samples came from the cache
    (older than the moment of subscribing)."""

    def __init__(self, fanout: PacketFanout, maxsize: int, cached: list[Sample]) -> None:
        self._fanout = fanout
        # Room for the cached GOP on top of the live backlog the caller asked for.
        self._queue: queue.Queue[Sample] = queue.Queue(maxsize + len(cached))
        for sample in cached:
            self._queue.put_nowait(sample)
        self.cached = len(cached)
        self.dropped = 0

    def offer(self, sample: Sample) -> None:
        try:
            self._queue.put_nowait(sample)
        except queue.Full:
            self.dropped += 1

    def get(self, timeout: float | None = None) -> Sample | None:
        """The next sample, or None after ``timeout`` seconds without one."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._fanout.unsubscribe(self)


class PacketFanout:
    """Thread-safe publisher of one camera's samples (video, and audio if stored)."""

    def __init__(self, max_gop_bytes: int = MAX_GOP_BYTES) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscription, ...] = ()
        self._streams: tuple[StreamInfo, ...] = ()
        self.init_serial = 0  # bumped whenever the streams (codec parameters) change
        self._max_gop_bytes = max_gop_bytes
        self._gop: list[Sample] = []
        self._gop_bytes = 0

    def subscribe(self, maxsize: int = 256) -> Subscription:
        """A new subscriber; its queue starts with the cached GOP (key frame first), if any."""
        with self._lock:
            subscription = Subscription(self, maxsize, self._gop)
            self._subscribers = (*self._subscribers, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def max_gop_bytes(self) -> int:
        """The cache's bound; 0 keeps no GOP (a viewer waits for the next key frame)."""
        return self._max_gop_bytes

    @max_gop_bytes.setter
    def max_gop_bytes(self, value: int) -> None:
        with self._lock:
            self._max_gop_bytes = value
            if self._gop_bytes > value:
                self._drop_gop()

    @property
    def wanted(self) -> bool:
        """Whether a sample is worth publishing (someone watches, or the GOP is kept)."""
        return self._max_gop_bytes > 0 or bool(self._subscribers)

    @property
    def cached(self) -> tuple[int, int]:
        """The cached GOP: samples and bytes."""
        with self._lock:
            return len(self._gop), self._gop_bytes

    @property
    def streams(self) -> tuple[StreamInfo, ...]:
        """The current streams; ``streams[0].init`` is the video's MP4 init."""
        return self._streams

    @property
    def init(self) -> bytes:
        return self._streams[0].init if self._streams else b""

    def set_streams(self, streams: tuple[StreamInfo, ...]) -> None:
        with self._lock:
            if streams != self._streams:
                self._streams = streams
                self.init_serial += 1
                self._drop_gop()  # its samples need the old parameters

    def publish(self, sample: Sample) -> None:
        with self._lock:
            if sample.stream_index == 0:
                self._keep(sample)
            subscribers = self._subscribers
            for subscription in subscribers:
                subscription.offer(sample)

    def _keep(self, sample: Sample) -> None:
        if sample.is_key:
            self._gop = [sample]
            self._gop_bytes = len(sample.data)
        elif self._gop:
            self._gop.append(sample)
            self._gop_bytes += len(sample.data)
        if self._gop_bytes > self._max_gop_bytes:
            self._drop_gop()

    def _drop_gop(self) -> None:
        self._gop = []
        self._gop_bytes = 0
