"""When a recorder thread last showed progress, so the supervisor notices a hung one.

A camera worker beats on every packet, every connection attempt and every second of its
reconnect backoff; the segment indexer is idle while it waits for work and beats on each segment.
A thread stuck in a call (a database lock that is never released, a disk that stopped
answering, a library that ignores its timeout) stops beating: ``RecorderDaemon.stalled`` names
it and the supervisor withholds the systemd watchdog ping (``appliance.daemons``).

Real monotonic time, not the injected ``Clock``: a thread hangs in real time whatever the
business clock of a test says.
"""

from __future__ import annotations

import time

__all__ = ["Heartbeat"]


class Heartbeat:
    """The last beat of one thread; ``idle`` means waiting for work, which is not a stall."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self._idle = False

    def beat(self) -> None:
        self._last = time.monotonic()
        self._idle = False

    def idle(self) -> None:
        """The thread waits for work (an empty queue): silence is expected, not a hang."""
        self._idle = True

    def silent_for(self) -> float:
        """Seconds since the last beat (0 while idle)."""
        if self._idle:
            return 0.0
        return time.monotonic() - self._last
