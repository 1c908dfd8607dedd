"""``MediaStream``: the MP4 bytes of one viewing span, primed, stoppable, finished once.

The first chunk is made before the HTTP response starts, so a refusal is still a 4xx; the span
row is finished (bytes sent, outcome) exactly once, however the stream ends.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Iterator

from appliance.errors import ApplianceError

__all__ = ["MP4", "MediaStream", "Watch"]

MP4 = "video/mp4"


class Watch:
    """``keep_going`` for a stream: false once stopped, or once ``check`` (asked at most every
    ``every_s`` seconds of real time) names a reason to stop, kept in ``reason``."""

    def __init__(
        self,
        check: Callable[[], str | None],
        every_s: float,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self._check = check
        self._every_s = every_s
        self.stopped = stopped
        self.reason: str | None = None
        self._checked = time.monotonic()  # the stream was just checked when it began

    def __call__(self) -> bool:
        if self.reason is not None or self.stopped():
            return False
        now = time.monotonic()
        if now - self._checked >= self._every_s:
            self._checked = now
            self.reason = self._check()
        return self.reason is None


class MediaStream:
    """A primed stream of MP4 bytes; its span row is finished when it ends or is closed.

    The first chunk is produced before the HTTP response starts, so a refusal (no footage,
    locked vault) is still a 4xx; after that the bytes only flow. ``close`` (from any thread)
    stops it and records how much was sent.
    """

    def __init__(
        self,
        chunks: Iterator[bytes],
        finish: Callable[[int, str], None],
        *,
        span_id: int,
        codec: str,
        transcoded: bool,
        watch: Watch | None = None,
    ) -> None:
        self.span_id = span_id
        self.codec = codec
        self.transcoded = transcoded
        self.content_type = MP4
        self._chunks = chunks
        self._finish = finish
        self._stop = threading.Event()
        self._watch = watch
        if watch is not None:
            watch.stopped = self._stop.is_set
        self._sent = 0
        self._done = False
        self._lock = threading.Lock()
        try:
            self._first = next(chunks, b"")
        except BaseException:
            self._close_chunks()
            self._end("refused")
            raise
        self._gen: Generator[bytes, None, None] = self._iterate()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def __iter__(self) -> Iterator[bytes]:
        return self._gen

    def _iterate(self) -> Generator[bytes, None, None]:
        outcome = "disconnected"
        try:
            if self._first:
                self._sent += len(self._first)
                yield self._first
            for chunk in self._chunks:
                if self._stop.is_set():
                    return
                self._sent += len(chunk)
                yield chunk
            reason = self._watch.reason if self._watch is not None else None
            outcome = "complete" if reason is None else f"stopped: {reason}"
        except ApplianceError as exc:
            outcome = f"error: {type(exc).__name__}"
        finally:
            self._close_chunks()
            self._end(outcome)

    def stop(self) -> None:
        """Ask the stream to end at its next chunk (thread-safe, never blocks)."""
        self._stop.set()

    def close(self, wait_s: float = 5.0) -> None:
        """Stop and finish now; waits (up to ``wait_s``) for a chunk being made elsewhere."""
        self._stop.set()
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self._gen.close()
                break
            except ValueError:  # the generator is running in another thread right now
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
        self._close_chunks()
        self._end("disconnected")

    def _close_chunks(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            with contextlib.suppress(ValueError):
                close()

    def _end(self, outcome: str) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        self._finish(self._sent, outcome)
