"""Injected time (invariant 8): retention, deadlines and purge never call the system clock.

Everything stores UTC; ``*_ms`` integers are milliseconds since the Unix epoch.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock", "from_ms", "to_ms"]


def to_ms(moment: datetime) -> int:
    """UTC milliseconds since the epoch for an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class Clock(Protocol):
    """Wall-clock UTC and a monotonic counter."""

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...

    def now_ms(self) -> int:
        """The current time in UTC milliseconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock tests move by hand; thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def now_ms(self) -> int:
        return to_ms(self.now())

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by a timedelta or a number of seconds."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            if moment < self._now:
                raise ValueError("a clock does not go back")
            self._mono += (moment - self._now).total_seconds()
            self._now = moment
