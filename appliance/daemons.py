"""Long-running parts of ``appliance run`` and their supervisor.

Services are found through the ``appliance.daemons`` entry-point group, so the core never
imports ``recorder`` or ``api`` (they depend on it, not the other way round). Each entry point
names a factory ``(AppContext) -> Daemon``.

Under systemd (``deploy/systemd/appliance.service``, ``Type=notify``) the supervisor tells the
service manager when every daemon has started (``READY=1``) and pings its watchdog
(``WATCHDOG=1``) only while every daemon is alive and none that reports progress (a ``Watched``
daemon: the recorder's camera workers and segment indexer) has stalled. A thread stuck in a
call cannot be stopped from Python and restarting the daemon beside it would record twice, so a
stall is left to systemd, which restarts the whole process (design/deploy.md).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from types import FrameType
from typing import Protocol, runtime_checkable

from appliance.context import AppContext
from appliance.sdnotify import Notifier

__all__ = ["Daemon", "DaemonFactory", "Supervisor", "Watched", "discover_daemons"]

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


@runtime_checkable
class Watched(Protocol):
    """A daemon whose threads report progress, so a hung one is noticed."""

    def stalled(self) -> dict[str, float]:
        """What has made no progress for too long, with the seconds since it last did
        (empty: all is well)."""
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

    def __init__(
        self,
        ctx: AppContext,
        factories: dict[str, DaemonFactory],
        notifier: Notifier | None = None,
    ) -> None:
        self._ctx = ctx
        self._factories = factories
        self._daemons: dict[str, Daemon] = {}
        self._stopping = threading.Event()
        self._notifier = notifier if notifier is not None else Notifier()
        self._stalled: list[str] = []

    @property
    def daemons(self) -> dict[str, Daemon]:
        return dict(self._daemons)

    def start(self) -> None:
        for name, factory in self._factories.items():
            service = factory(self._ctx)
            service.start()
            self._daemons[name] = service
            log.info("started %s", name)
        self._notifier.ready(f"running: {', '.join(self._daemons) or 'no daemons'}")

    def stalled(self) -> dict[str, float]:
        """Every stalled part of every watched daemon, "daemon: part" -> seconds silent."""
        found: dict[str, float] = {}
        for name, service in self._daemons.items():
            if isinstance(service, Watched):
                found.update({f"{name}: {part}": s for part, s in service.stalled().items()})
        return found

    def check(self) -> None:
        """Restart a dead daemon; ping the watchdog unless something has stalled."""
        for name, service in list(self._daemons.items()):
            if not service.alive():
                log.error("service %s died; restarting", name)
                replacement = self._factories[name](self._ctx)
                replacement.start()
                self._daemons[name] = replacement
        stalled = self.stalled()
        if sorted(stalled) != self._stalled:  # told once per change, not every poll
            if stalled:
                # No more pings: systemd restarts the process after WatchdogSec.
                what = "; ".join(
                    f"{part} (no progress for {s:.0f} s)" for part, s in stalled.items()
                )
                log.error("stalled, withholding the watchdog ping: %s", what)
                self._notifier.status(f"stalled: {what}")
            else:
                log.warning("making progress again; watchdog pings resume")
                self._notifier.status(f"running: {', '.join(self._daemons)}")
            self._stalled = sorted(stalled)
        if not stalled:
            self._notifier.watchdog()

    def request_stop(self, *_: object) -> None:
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        def handler(_signum: int, _frame: FrameType | None) -> None:
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run_forever(self, poll_s: float = 1.0) -> None:
        """Watch the services until a stop is requested, then stop them in reverse order."""
        interval = self._notifier.watchdog_interval_s
        if interval is not None:
            poll_s = min(poll_s, interval)  # a ping at least every half WatchdogSec
        try:
            self.check()  # the first ping right after READY=1
            while not self._stopping.wait(poll_s):
                self.check()
        finally:
            self._notifier.stopping()
            self.stop()

    def stop(self) -> None:
        for name, service in reversed(list(self._daemons.items())):
            try:
                service.stop()
            except Exception:
                log.exception("stopping %s failed", name)
        self._daemons.clear()
