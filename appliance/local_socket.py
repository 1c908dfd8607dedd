"""A local control socket of the running appliance: one JSON object per line each way.

A unix stream socket in the data dir (0700; the socket 0600), and the peer's uid, read from the
kernel (SO_PEERCRED), must be root or the appliance's own user. Requests are served one at a
time on a background thread; a domain error becomes ``{"ok": false, "kind", "error"}``, which
the client (``appliance.vault.control.control_request``) raises again as the same error. The
vault's ``control.sock`` and the backup's ``backup.sock`` are two such sockets.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.errors import ApplianceError, Conflict, PermissionDenied, ValidationFailed

__all__ = ["MAX_LINE", "Handler", "LocalSocketServer", "read_line"]

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024

#: Takes the request object and the peer's uid; returns the reply fields (``ok`` is added).
Handler = Callable[[dict[str, Any], int], dict[str, Any]]


def _peer_uid(conn: socket.socket) -> int:
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def read_line(conn: socket.socket) -> bytes:
    """One line (without its newline), at most ``MAX_LINE`` bytes."""
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_LINE:
            raise ValidationFailed("request too long")
    return data.split(b"\n", 1)[0]


class LocalSocketServer:
    """Serves one local control socket in a background thread.

    ``exclusive``: a socket file another live process answers on is refused (Conflict) instead
    of replaced; otherwise a leftover file is removed unasked (one appliance per box).
    """

    def __init__(
        self,
        path: Path,
        handle: Handler,
        *,
        name: str,
        reply_timeout_s: float,
        backlog: int,
        exclusive: bool,
        refusal: str,
    ) -> None:
        self.path = path
        self._handle_request = handle
        self._name = name
        self._reply_timeout_s = reply_timeout_s
        self._backlog = backlog
        self._exclusive = exclusive
        self._refusal = refusal
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        if self._exclusive:
            self._remove_stale()
        else:
            self.path.unlink(missing_ok=True)  # left by a process that died
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        self.path.chmod(0o600)
        sock.listen(self._backlog)
        sock.settimeout(0.5)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
        self._thread.start()

    def _remove_stale(self) -> None:
        try:
            mode = self.path.lstat().st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise Conflict(f"{self.path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.path))
        except OSError:
            self.path.unlink(missing_ok=True)  # left by a process that died
            return
        finally:
            probe.close()
        raise Conflict(f"another appliance process is serving {self.path}")

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()
            self.path.unlink(missing_ok=True)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(self._reply_timeout_s)
                try:
                    reply = self._reply(conn)
                except Exception as exc:
                    log.exception("%s request failed", self._name)
                    reply = {"ok": False, "kind": "ApplianceError", "error": str(exc)}
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply).encode() + b"\n")

    def _reply(self, conn: socket.socket) -> dict[str, Any]:
        uid = _peer_uid(conn)
        try:
            if uid not in (0, os.geteuid()):
                raise PermissionDenied(self._refusal)
            try:
                request = json.loads(read_line(conn))
            except ValueError as exc:  # UnicodeDecodeError is one
                raise ValidationFailed("not a JSON request") from exc
            if not isinstance(request, dict):
                raise ValidationFailed("not a JSON object")
            return {"ok": True, **self._handle_request(request, uid)}
        except ApplianceError as exc:
            return {"ok": False, "kind": type(exc).__name__, "error": str(exc)}
