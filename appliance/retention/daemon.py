"""The ``retention`` service of ``appliance run``: purge cycles, vault key upkeep (automatic
rotation, key alarms) and the vault control socket."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from appliance.alarms import AlarmKind, clear_alarm, raise_alarm
from appliance.retention.cycle import CycleReport, FreeBytes, Retention
from appliance.retention.keys import key_upkeep
from appliance.vault.control import ControlServer, socket_path

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["RetentionDaemon", "create"]

log = logging.getLogger(__name__)


class RetentionDaemon:
    """Runs key upkeep and a purge cycle every ``retention.cycle_interval_s`` and serves the
    control socket.

    A failing cycle is logged and alarmed, and the next one runs on time: one bad segment row
    must not stop every other purge.
    """

    name = "retention"

    def __init__(
        self,
        ctx: AppContext,
        *,
        free_bytes: FreeBytes | None = None,
        control: bool = True,
    ) -> None:
        self._ctx = ctx
        self.retention = Retention(ctx, free_bytes=free_bytes)
        self.control = (
            ControlServer(ctx.vault_keeper, socket_path(ctx.settings)) if control else None
        )
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_report: CycleReport | None = None
        self.cycles = 0

    def start(self) -> None:
        day_s = self._ctx.settings.retention.day_s
        if day_s != 86_400:
            log.warning(
                "retention.day_s is %d: footage expires after max_days x %d s, not days "
                "(tests and benchmarks only)",
                day_s,
                day_s,
            )
        if self.control is not None:
            self.control.start()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(60)
        if self.control is not None:
            self.control.stop()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        interval = self._ctx.settings.retention.cycle_interval_s
        while not self._stopping.is_set():
            self.run_once()
            self._stopping.wait(interval)

    def run_once(self) -> CycleReport | None:
        """Key upkeep (rotation when due) then one cycle; errors are logged and alarmed, never
        raised."""
        key_upkeep(self._ctx, self.retention.actor)
        now = self._ctx.clock.now_ms()
        try:
            report = self.retention.run_cycle()
        except Exception as exc:
            log.exception("purge cycle failed")
            try:
                with self._ctx.db.session() as session:
                    raise_alarm(session, AlarmKind.purge_failed, f"purge cycle failed: {exc}", now)
            except Exception:
                log.exception("could not record the purge failure alarm")
            return None
        with self._ctx.db.session() as session:
            clear_alarm(session, AlarmKind.purge_failed, now)
        self.last_report = report
        self.cycles += 1
        if report.expired.segments or report.pressure.segments:
            log.info(
                "purged %d expired and %d pressure segments",
                report.expired.segments,
                report.pressure.segments,
            )
        return report


def create(ctx: AppContext) -> RetentionDaemon:
    """Entry point ``appliance.daemons: retention``."""
    return RetentionDaemon(ctx)
