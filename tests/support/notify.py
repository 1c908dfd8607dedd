"""A stand-in for systemd's end of the notify protocol: a real unix datagram socket that
collects what ``appliance.sdnotify`` sends, with the time each message arrived."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Message", "NotifyListener"]


@dataclass(frozen=True)
class Message:
    at: float  # time.monotonic() on arrival
    fields: dict[str, str]


class NotifyListener:
    """Bound at ``path`` (what ``NOTIFY_SOCKET`` names) until closed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.2)
        self._messages: list[Message] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self._messages.append(Message(time.monotonic(), fields))

    def messages(self, since: float = 0.0) -> list[Message]:
        with self._lock:
            return [m for m in self._messages if m.at >= since]

    def pings(self, since: float = 0.0) -> list[float]:
        """Arrival times of WATCHDOG=1 since ``since``."""
        return [m.at for m in self.messages(since) if m.fields.get("WATCHDOG") == "1"]

    def wait(
        self, key: str, value: str | None = None, timeout_s: float = 30.0, since: float = 0.0
    ) -> Message:
        """The first message since ``since`` with ``key`` (equal to ``value``, or starting
        with it when it ends in ``*``); AssertionError naming what came after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in self.messages(since):
                got = message.fields.get(key)
                if got is None:
                    continue
                if (
                    value is None
                    or got == value
                    or (value.endswith("*") and got.startswith(value[:-1]))
                ):
                    return message
            time.sleep(0.05)
        seen = [m.fields for m in self.messages(since)][-10:]
        raise AssertionError(f"no {key}={value} within {timeout_s} s; last messages: {seen}")

    def close(self) -> None:
        self._closed.set()
        self._sock.close()
        self._thread.join(timeout=2)
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> NotifyListener:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
