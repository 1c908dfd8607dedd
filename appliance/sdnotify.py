"""systemd's notify protocol, in plain Python: one datagram per message to ``$NOTIFY_SOCKET``.

Under ``Type=notify`` systemd waits for ``READY=1`` before it counts the service as started, and
with ``WatchdogSec=`` it restarts the service when ``WATCHDOG=1`` stops arriving. The protocol is
a few ``KEY=value`` lines in a datagram to a unix socket (a path, or an abstract name written
with a leading ``@``), so it needs no library (``sd_notify(3)``). Outside systemd (no
``NOTIFY_SOCKET``) every call is a no-op, so ``appliance run`` behaves the same in a terminal.

What decides *whether* to ping is the supervisor's (``appliance.daemons``); this module only
speaks the protocol.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    """The service manager's notify socket, read from the environment once."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        # An abstract socket is written "@name"; its address starts with a NUL byte.
        self._address = "\0" + raw[1:] if raw.startswith("@") else raw
        self.watchdog_interval_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram; False if there is no socket or it failed."""
        if not self._address:
            return False
        message = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(message)
        except OSError as exc:
            # The manager went away or the socket is full: the service goes on; systemd notices
            # the missing pings by itself.
            log.warning("sd_notify %s failed: %s", fields[0] if fields else "", exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", "STATUS=stopping")


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Half of ``WatchdogSec`` (what ``sd_watchdog_enabled(3)`` advises), if it is for us."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):  # set for another process (we were forked off it)
        return None
    return int(usec) / 2_000_000
