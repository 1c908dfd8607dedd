"""Long-running parts of ``appliance run`` and their supervisor.

Services are found through the ``appliance.daemons`` entry-point group, so the core never
imports ``recorder`` or ``api`` (they depend on it, not the other way round). Each entry point
names a factory ``(AppContext) -> Daemon``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from types import FrameType
from typing import Protocol

from appliance.context import AppContext

__all__ = ["Daemon", "DaemonFactory", "Supervisor", "discover_daemons"]

log = logging.getLogger(__name__)


class Daemon(Protocol):
    """A part of the appliance that runs until stopped."""

    name: str

    def start(self) -> None:
        """Start in the background; return promptly."""
        ...

    def stop(self) -> None:
        """Stop cleanly (flush, close the current segment, sign a ledger head)."""
        ...

    def alive(self) -> bool:
        """False once the service has died on its own."""
        ...


DaemonFactory = Callable[[AppContext], Daemon]


def discover_daemons(only: set[str] | None = None) -> dict[str, DaemonFactory]:
    """The registered service factories, by entry-point name, in a stable order."""
    found: dict[str, DaemonFactory] = {}
    for point in sorted(entry_points(group="appliance.daemons"), key=lambda p: p.name):
        if only is None or point.name in only:
            found[point.name] = point.load()
    return found


class Supervisor:
    """Starts services, restarts one that dies, stops all on SIGTERM/SIGINT."""

    def __init__(self, ctx: AppContext, factories: dict[str, DaemonFactory]) -> None:
        self._ctx = ctx
        self._factories = factories
        self._daemons: dict[str, Daemon] = {}
        self._stopping = threading.Event()

    @property
    def daemons(self) -> dict[str, Daemon]:
        return dict(self._daemons)

    def start(self) -> None:
        for name, factory in self._factories.items():
            service = factory(self._ctx)
            service.start()
            self._daemons[name] = service
            log.info("started %s", name)

    def request_stop(self, *_: object) -> None:
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        def handler(_signum: int, _frame: FrameType | None) -> None:
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run_forever(self, poll_s: float = 1.0) -> None:
        """Watch the services until a stop is requested, then stop them in reverse order."""
        try:
            while not self._stopping.wait(poll_s):
                for name, service in list(self._daemons.items()):
                    if not service.alive():
                        log.error("service %s died; restarting", name)
                        replacement = self._factories[name](self._ctx)
                        replacement.start()
                        self._daemons[name] = replacement
        finally:
            self.stop()

    def stop(self) -> None:
        for name, service in reversed(list(self._daemons.items())):
            try:
                service.stop()
            except Exception:
                log.exception("stopping %s failed", name)
        self._daemons.clear()
