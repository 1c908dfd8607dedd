"""The ``health`` daemon of ``appliance run``: every ``alarms.check_interval_s`` it runs the
health checks (cameras down, vault locked, new agency requests), verifies the whole ledger every
``alarms.ledger_verify_every_s`` (recording the result), queues a delivery for each new alarm and
attempts the deliveries that are due.
"""

from __future__ import annotations

import logging
import threading

from appliance.context import AppContext
from appliance.errors import Conflict
from appliance.health.cameras import camera_health
from appliance.health.checks import check_cameras, check_new_requests, check_vault
from appliance.health.delivery import deliver_due, enqueue_new
from appliance.health.verification import record_verification
from appliance.ledger.reading import verify_once
from appliance.policy import PolicyService

__all__ = ["HealthDaemon", "create"]

log = logging.getLogger(__name__)


class HealthDaemon:
    name = "health"

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_verify = ctx.clock.monotonic()  # first verification right after start

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def check(self) -> None:
        """The checks that raise and clear alarms, and the queueing of their deliveries."""
        ctx = self._ctx
        settings = ctx.settings
        now = ctx.clock.now_ms()
        with ctx.db.session() as session:
            cameras = camera_health(session, settings, now)
            check_cameras(
                session,
                cameras,
                now,
                settings.alarms.camera_down_after_s * 1000,
                settings.recorder.segment_target_s * 1000,
            )
            check_vault(session, ctx.vault.is_unlocked, now)
            check_new_requests(session, now)
            enqueue_new(session, settings, now)
        PolicyService.of(ctx).check_current()  # policy_outdated (issue 17)

    def verify_ledger(self) -> None:
        try:
            report = verify_once(self._ctx.ledger)
        except Conflict:
            return  # someone is verifying right now; that run is recorded instead
        with self._ctx.db.session() as session:
            record_verification(session, report, self._ctx.clock.now_ms(), "daemon")
            enqueue_new(session, self._ctx.settings, self._ctx.clock.now_ms())

    def tick(self) -> None:
        """One round: checks, the ledger verification when due, then deliveries."""
        self.check()
        clock = self._ctx.clock
        if clock.monotonic() >= self._next_verify:
            self._next_verify = clock.monotonic() + self._ctx.settings.alarms.ledger_verify_every_s
            self.verify_ledger()
        deliver_due(self._ctx.db, clock, self._ctx.settings)

    def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:
                log.exception("health round failed; trying again next round")
            if self._stop.wait(self._ctx.settings.alarms.check_interval_s):
                return


def create(ctx: AppContext) -> HealthDaemon:
    """Entry point of the ``appliance.daemons`` group (called with the ``AppContext``)."""
    return HealthDaemon(ctx)
