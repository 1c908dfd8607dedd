"""The recorder's own free-space floor on its segments disk (issue 19).

Whatever else runs on the box (or does not: a recorder-only node has no purge daemon beside
it), the recorder never writes its disk full. A thread measures free space every second; below
``recorder.disk_floor_bytes``:

1. ``relieve(deficit)`` runs first: where segments are also in an object store, it drops the
   local copies that are safely uploaded, oldest first (given by the storage backend; a local
   directory has nothing to drop);
2. if still below, the guard *pauses*: sessions end at their next key frame (finishing the open
   segment: a trailer, a few bytes) and workers do not reconnect, so nothing more is written; a
   gap with reason ``disk_floor`` is recorded per camera and the ``recorder_disk_floor`` alarm
   is raised (subject ``node:<id>``, or ``node:`` on a single box).

Recording resumes once free space is above the floor plus ``disk_resume_margin_bytes`` (so it
does not flap), and the alarm clears. No write ever meets ENOSPC from the recorder's own data;
with the floor at its default (2 GiB) there are minutes of margin at 150 cameras of 4 Mbit/s
between two measurements.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from appliance.alarms import AlarmKind, clear_alarm, raise_alarm
from appliance.clock import Clock
from appliance.db import Database

__all__ = ["DiskGuard", "FreeBytes", "Relieve"]

log = logging.getLogger(__name__)

#: Free bytes on the segments' file system (injectable for tests of the rule itself).
FreeBytes = Callable[[], int]
#: Drops up to ``deficit`` bytes of local copies that live elsewhere too; returns bytes freed.
Relieve = Callable[[int], int]

_POLL_S = 1.0


class DiskGuard:
    """Measures free space and says whether the recorder may write; see the module docstring."""

    def __init__(
        self,
        segments_dir: Path,
        db: Database,
        clock: Clock,
        *,
        floor_bytes: int,
        resume_margin_bytes: int,
        node_id: str = "",
        free_bytes: FreeBytes | None = None,
        relieve: Relieve | None = None,
    ) -> None:
        self._dir = segments_dir
        self._db = db
        self._clock = clock
        self.floor_bytes = floor_bytes
        self.resume_bytes = floor_bytes + resume_margin_bytes
        self.subject = f"node:{node_id}"
        self._measure = free_bytes or self._disk_free
        self._relieve = relieve
        self._paused = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="disk-guard", daemon=True)
        self.free_bytes = self._measure()
        self.pauses = 0

    @property
    def paused(self) -> bool:
        """True while the recorder must not write: below the floor, not yet above resume."""
        return self._paused.is_set()

    def start(self) -> None:
        self.check()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def alive(self) -> bool:
        return self._thread.is_alive() or self._stop.is_set()

    def _disk_free(self) -> int:
        path = self._dir
        while not path.exists() and path != path.parent:
            path = path.parent
        return shutil.disk_usage(path).free

    def _run(self) -> None:
        while not self._stop.wait(_POLL_S):
            try:
                self.check()
            except Exception:
                log.exception("disk guard: check failed")

    def check(self) -> bool:
        """Measure once and update the state; returns ``paused``."""
        free = self._measure()
        if free < self.floor_bytes and self._relieve is not None:
            freed = self._relieve(self.floor_bytes - free)
            if freed:
                log.info("disk guard: dropped %d bytes of uploaded local copies", freed)
                free = self._measure()
        self.free_bytes = free
        if not self.paused and free < self.floor_bytes:
            self._paused.set()
            self.pauses += 1
            log.error(
                "disk guard: %d bytes free, below the floor of %d: recording paused",
                free, self.floor_bytes,
            )  # fmt: skip
            self._alarm(free, raise_it=True)
        elif self.paused and free >= self.resume_bytes:
            self._paused.clear()
            log.warning("disk guard: %d bytes free: recording resumes", free)
            self._alarm(free, raise_it=False)
        return self.paused

    def _alarm(self, free: int, *, raise_it: bool) -> None:
        now = self._clock.now_ms()
        try:
            with self._db.session() as session:
                if raise_it:
                    raise_alarm(
                        session,
                        AlarmKind.recorder_disk_floor,
                        f"recorder disk: {free} bytes free, below its floor of "
                        f"{self.floor_bytes}: no footage is written until space is freed",
                        now,
                        self.subject,
                    )
                else:
                    clear_alarm(session, AlarmKind.recorder_disk_floor, now, self.subject)
        except Exception:
            log.exception("disk guard: could not store the alarm")
