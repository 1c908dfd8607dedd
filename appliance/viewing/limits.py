"""How many streams the box serves: per user, per box, and H.265 transcodes (issue 13).

Counted in memory by the process that serves them (the web process). A ``Slot`` is taken
before a stream's span is recorded and released exactly once when the stream ends, however it
ends (complete, error, the client disconnected, the session stopped). A refusal is
``RateLimited`` (429 with Retry-After) and says which limit was reached.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from appliance.errors import RateLimited

__all__ = ["RETRY_AFTER_S", "Slot", "StreamSlots"]

RETRY_AFTER_S = 5  # a stream slot frees when a stream ends: worth a short wait


class Slot:
    """One open stream's share of the limits; ``release`` is idempotent and thread-safe."""

    def __init__(self, owner: StreamSlots, user_id: int) -> None:
        self._owner = owner
        self.user_id = user_id
        self.transcode = False
        self._released = False

    def add_transcode(self) -> None:
        """Also hold one of the box's transcodes (RateLimited when none is free)."""
        self._owner._add_transcode(self)

    def release(self) -> None:
        self._owner._release(self)


class StreamSlots:
    """The counters; ``take`` refuses beyond ``per_user`` or ``per_box`` open streams."""

    def __init__(self, *, per_user: int, per_box: int, transcodes: int) -> None:
        self.per_user = per_user
        self.per_box = per_box
        self.transcodes = transcodes
        self._lock = threading.Lock()
        self._users: Counter[int] = Counter()
        self._open = 0
        self._transcoding = 0

    def take(self, user_id: int) -> Slot:
        with self._lock:
            if self._users[user_id] >= self.per_user:
                raise RateLimited(
                    f"you already have {self.per_user} streams open "
                    "(viewing.streams_per_user); close one first",
                    RETRY_AFTER_S,
                )
            if self._open >= self.per_box:
                raise RateLimited(
                    f"the appliance already serves {self.per_box} streams "
                    "(viewing.streams_per_box); try again shortly",
                    RETRY_AFTER_S,
                )
            self._users[user_id] += 1
            self._open += 1
            return Slot(self, user_id)

    def _add_transcode(self, slot: Slot) -> None:
        with self._lock:
            if slot.transcode or slot._released:
                return
            self._count_transcode()
            slot.transcode = True

    def take_transcode(self) -> Callable[[], None]:
        """Hold one transcode outside any stream's slot (a live encoder shared by its
        viewers); returns the idempotent release."""
        with self._lock:
            self._count_transcode()
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():
                    released.set()
                    self._transcoding -= 1

        return release

    def _count_transcode(self) -> None:
        if self._transcoding >= self.transcodes:
            raise RateLimited(
                f"{self.transcodes} H.265 streams are being converted for browsers "
                "already (viewing.transcodes_per_box); try again shortly",
                RETRY_AFTER_S,
            )
        self._transcoding += 1

    def _release(self, slot: Slot) -> None:
        with self._lock:
            if slot._released:
                return
            slot._released = True
            self._users[slot.user_id] -= 1
            if self._users[slot.user_id] <= 0:
                del self._users[slot.user_id]
            self._open -= 1
            if slot.transcode:
                self._transcoding -= 1

    def counts(self, user_id: int | None = None) -> tuple[int, int]:
        """Open streams (of ``user_id``, of the box) and transcodes, for tests and status."""
        with self._lock:
            mine = self._users[user_id] if user_id is not None else self._open
            return mine, self._transcoding
