"""The backup socket: how ``appliance backup`` (a systemd timer, an operator) asks the running
appliance for a backup, since only that process holds the unsealed signing key.

``<data_dir>/backup.sock`` (0600 in the 0700 data dir); the peer's uid, from the kernel
(SO_PEERCRED), must be root or the appliance's own user. One JSON line each way, the same
framing as the vault's control socket (``appliance.vault.control.control_request`` is the
client). Operation ``backup`` with an optional ``out`` directory, ``keep`` and ``config`` (the
configuration file the archive should carry); the reply names
the archive. One request at a time, and never at the same time as the daemon's own round.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.errors import ApplianceError, PermissionDenied, ValidationFailed

__all__ = ["BackupControl", "backup_socket_path"]

log = logging.getLogger(__name__)

_MAX_LINE = 64 * 1024

#: Takes (out directory or None, keep or None, the configuration file or None, actor) and
#: returns the reply fields.
TakeBackup = Callable[[Path | None, int | None, Path | None, str], dict[str, Any]]


def backup_socket_path(data_dir: Path) -> Path:
    return data_dir / "backup.sock"


def _peer_uid(conn: socket.socket) -> int:
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


class BackupControl:
    """Serves ``backup.sock`` in a background thread for the backup daemon."""

    def __init__(self, path: Path, take: TakeBackup) -> None:
        self.path = path
        self._take = take
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self.path.unlink(missing_ok=True)  # left by a process that died (one appliance per box)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        self.path.chmod(0o600)
        sock.listen(4)
        sock.settimeout(0.5)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="backup-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()
            self.path.unlink(missing_ok=True)

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
                conn.settimeout(600)
                try:
                    reply = self._handle(conn)
                except ApplianceError as exc:
                    reply = {"ok": False, "kind": type(exc).__name__, "error": str(exc)}
                except Exception as exc:
                    log.exception("backup request failed")
                    reply = {"ok": False, "kind": "ApplianceError", "error": str(exc)}
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply).encode() + b"\n")

    def _handle(self, conn: socket.socket) -> dict[str, Any]:
        uid = _peer_uid(conn)
        if uid not in (0, os.geteuid()):
            raise PermissionDenied("only root or the appliance's user may ask for a backup")
        data = b""
        while b"\n" not in data and len(data) <= _MAX_LINE:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        try:
            request = json.loads(data.split(b"\n", 1)[0])
        except ValueError as exc:
            raise ValidationFailed("not a JSON request") from exc
        if not isinstance(request, dict) or request.get("op") != "backup":
            raise ValidationFailed("unknown operation")
        out = request.get("out")
        keep = request.get("keep")
        config = request.get("config")
        actor = f"{str(request.get('actor') or 'unknown')[:150]} (uid {uid}, backup socket)"
        return {
            "ok": True,
            **self._take(
                Path(out) if isinstance(out, str) else None,
                keep if isinstance(keep, int) else None,
                Path(config) if isinstance(config, str) else None,
                actor,
            ),
        }
