"""How many streams the box serves: per user, per box, and H.265 transcodes (issue 13).

Recorded playbacks have their own, lower limits inside those: each one decrypts a segment
and muxes it in this process, where a live stream only forwards packets the recorder already
has (measured with 16 recorded streams held by one viewer: +27 % resident memory and the staff
viewer's first byte past 500 ms; bench/RESULTS.md).

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

    def __init__(self, owner: StreamSlots, user_id: int, recorded: bool) -> None:
        self._owner = owner
        self.user_id = user_id
        self.recorded = recorded
        self.transcode = False
        self._released = False

    def add_transcode(self) -> None:
        """Also hold one of the box's transcodes (RateLimited when none is free)."""
        self._owner._add_transcode(self)

    def release(self) -> None:
        self._owner._release(self)


class StreamSlots:
    """The counters; ``take`` refuses beyond ``per_user`` or ``per_box`` open streams, and a
    recorded stream beyond ``recorded_per_user`` or ``recorded_per_box``."""

    def __init__(
        self,
        *,
        per_user: int,
        per_box: int,
        transcodes: int,
        recorded_per_user: int | None = None,
        recorded_per_box: int | None = None,
    ) -> None:
        self.per_user = per_user
        self.per_box = per_box
        self.transcodes = transcodes
        self.recorded_per_user = min(per_user, recorded_per_user or per_user)
        self.recorded_per_box = min(per_box, recorded_per_box or per_box)
        self._lock = threading.Lock()
        self._users: Counter[int] = Counter()
        self._recorded_users: Counter[int] = Counter()
        self._open = 0
        self._recorded = 0
        self._transcoding = 0

    def take(self, user_id: int, *, recorded: bool = False) -> Slot:
        with self._lock:
            if recorded and self._recorded_users[user_id] >= self.recorded_per_user:
                raise RateLimited(
                    f"you already play {self.recorded_per_user} recordings at once "
                    "(viewing.recorded_streams_per_user); close one first",
                    RETRY_AFTER_S,
                )
            if recorded and self._recorded >= self.recorded_per_box:
                raise RateLimited(
                    f"the appliance already plays {self.recorded_per_box} recordings "
                    "(viewing.recorded_streams_per_box); try again shortly",
                    RETRY_AFTER_S,
                )
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
            if recorded:
                self._recorded_users[user_id] += 1
                self._recorded += 1
            return Slot(self, user_id, recorded)

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
            if slot.recorded:
                self._recorded_users[slot.user_id] -= 1
                if self._recorded_users[slot.user_id] <= 0:
                    del self._recorded_users[slot.user_id]
                self._recorded -= 1
            if slot.transcode:
                self._transcoding -= 1

    def counts(self, user_id: int | None = None) -> tuple[int, int]:
        """Open streams (of ``user_id``, of the box) and transcodes, for tests and status."""
        with self._lock:
            mine = self._users[user_id] if user_id is not None else self._open
            return mine, self._transcoding
