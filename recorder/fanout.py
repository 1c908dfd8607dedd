"""The live-view hook: a camera's samples, fanned out to subscribers as they arrive.

The recorder never waits for a subscriber: each has a bounded queue and a sample that does not
fit is dropped (and counted) for that subscriber only. A viewer that falls behind should resume
at the next key frame (``Sample.is_key``); ``init`` is the MP4 init of the current parameters.
"""

from __future__ import annotations

import queue
import threading

from appliance.media.format import Sample, StreamInfo

__all__ = ["PacketFanout", "Subscription"]


class Subscription:
    """One subscriber's queue. Iterate with ``get``; call ``close`` (or the fanout's
    ``unsubscribe``) when done."""

    def __init__(self, fanout: PacketFanout, maxsize: int) -> None:
        self._fanout = fanout
        self._queue: queue.Queue[Sample] = queue.Queue(maxsize)
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

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscription, ...] = ()
        self._streams: tuple[StreamInfo, ...] = ()
        self.init_serial = 0  # bumped whenever the streams (codec parameters) change

    def subscribe(self, maxsize: int = 256) -> Subscription:
        subscription = Subscription(self, maxsize)
        with self._lock:
            self._subscribers = (*self._subscribers, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

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

    def publish(self, sample: Sample) -> None:
        # Reading the tuple needs no lock (it is replaced, never mutated): one attribute read
        # per sample when nobody watches.
        for subscription in self._subscribers:
            subscription.offer(sample)
