"""``EarlyReads``: an object's first GET started before the reader asks for it.

Playback from the object store waits for one ranged GET before its first byte (about 10-15 ms
through Swift on loopback), and before that for the viewer's span to be recorded and
committed (invariant 5: the access is on record before any picture leaves). The two need not
wait for each other: once the span's checks have passed and its segments are known, the
GET of the first segment's first window starts on a small pool while the span is committed
and the segment key unsealed; the reader then takes the answer instead of asking again.
Only ciphertext moves early; nothing is decrypted or served before the span commits.

An answer nobody takes (the commit failed, the stream was refused) is closed after
``ttl_s`` by the next ``start``, or by ``close``; at most ``most`` are held at once (each
holds one of the store client's connections).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from appliance.storage.base import ByteStream

__all__ = ["EarlyReads"]

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="segment-open")


def _close_result(done: Future[ByteStream]) -> None:
    if not done.cancelled() and done.exception() is None:
        done.result().close()


def _close_when_done(future: Future[ByteStream]) -> None:
    if not future.cancel():
        future.add_done_callback(_close_result)


class EarlyReads:
    """Opened streams by object key, waiting for their reader."""

    def __init__(self, *, ttl_s: float = 10.0, most: int = 16) -> None:
        self.ttl_s, self.most = ttl_s, most
        self._waiting: dict[str, tuple[float, Future[ByteStream]]] = {}
        self._lock = threading.Lock()

    def start(self, key: str, opener: Callable[[], ByteStream]) -> bool:
        """Run ``opener`` for ``key`` on the pool unless one is waiting already or ``most``
        are; True if it was started. Never blocks."""
        now = time.monotonic()
        with self._lock:
            stale = [k for k, (t, _) in self._waiting.items() if now - t > self.ttl_s]
            dropped = [self._waiting.pop(k)[1] for k in stale]
            started = key not in self._waiting and len(self._waiting) < self.most
            if started:
                self._waiting[key] = (now, _POOL.submit(opener))
        for future in dropped:
            _close_when_done(future)
        return started

    def take(self, key: str) -> Future[ByteStream] | None:
        """The early open of ``key`` (the caller now owns its stream), or None."""
        with self._lock:
            entry = self._waiting.pop(key, None)
        return entry[1] if entry is not None else None

    def close(self) -> None:
        with self._lock:
            dropped = [future for _, future in self._waiting.values()]
            self._waiting.clear()
        for future in dropped:
            _close_when_done(future)
