"""``appliance run``'s deadline watcher (entry point ``appliance.daemons: requests``)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from appliance.requests.service import RequestService

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["DeadlineDaemon", "create"]

log = logging.getLogger(__name__)


class DeadlineDaemon:
    """``appliance run``'s deadline watcher: alarms for overdue and due-soon requests; also
    moves documents off rotated vault keys while the vault is unlocked, and destroys export
    packages and documents past their keep days (``requests.export_keep_days``,
    ``requests.document_keep_days``)."""

    name = "requests"

    def __init__(self, ctx: AppContext) -> None:
        self._service = RequestService(ctx)
        self._interval_s = ctx.settings.requests.check_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="requests", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._service.check_deadlines()
                self._service.reseal_documents()
                self._service.destroy_expired_copies()
            except Exception:
                log.exception("deadline check failed")
            self._stop.wait(self._interval_s)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def alive(self) -> bool:
        return self._thread.is_alive()


def create(ctx: AppContext) -> DeadlineDaemon:
    return DeadlineDaemon(ctx)
