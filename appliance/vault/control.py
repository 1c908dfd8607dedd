"""The local control socket: how ``appliance vault unlock`` reaches the running appliance.

A unix stream socket ``<data_dir>/control.sock`` (the data dir is 0700, the socket 0600), and
the peer's uid, read from the kernel (SO_PEERCRED), must be root or the appliance's own user.
One JSON object per line each way. Requests are served one at a time, which also rate-limits
passphrase guessing to one argon2id derivation at a time.

Operations: ``status``, ``unlock`` (``passphrase``, ``actor``), ``lock`` (``actor``).
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance import errors
from appliance.errors import ApplianceError, NotFound, PermissionDenied, ValidationFailed
from appliance.vault.registry import VaultKeeper

if TYPE_CHECKING:
    from appliance.settings import Settings

__all__ = ["ControlServer", "control_request", "socket_path"]

log = logging.getLogger(__name__)

_MAX_LINE = 64 * 1024


def socket_path(settings: Settings) -> Path:
    return settings.storage.data_dir / "control.sock"


def _peer_uid(conn: socket.socket) -> int:
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > _MAX_LINE:
            raise ValidationFailed("request too long")
    return data.split(b"\n", 1)[0]


class ControlServer:
    """Serves the control socket for one process's vault in a background thread."""

    def __init__(self, keeper: VaultKeeper, path: Path) -> None:
        self._keeper = keeper
        self.path = path
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        self.path.chmod(0o600)
        sock.listen(8)
        sock.settimeout(0.5)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="vault-control", daemon=True)
        self._thread.start()

    def _remove_stale(self) -> None:
        try:
            mode = self.path.lstat().st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise errors.Conflict(f"{self.path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.path))
        except OSError:
            self.path.unlink(missing_ok=True)  # left by a process that died
            return
        finally:
            probe.close()
        raise errors.Conflict(f"another appliance process is serving {self.path}")

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
                conn.settimeout(10)
                try:
                    reply = self._handle(conn)
                except Exception as exc:
                    log.exception("control request failed")
                    reply = {"ok": False, "kind": "ApplianceError", "error": str(exc)}
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply).encode() + b"\n")

    def _handle(self, conn: socket.socket) -> dict[str, Any]:
        uid = _peer_uid(conn)
        try:
            if uid not in (0, os.geteuid()):
                raise PermissionDenied("only root or the appliance's user may use this socket")
            try:
                request = json.loads(_read_line(conn))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValidationFailed("not a JSON request") from exc
            if not isinstance(request, dict):
                raise ValidationFailed("not a JSON object")
            return {"ok": True, **self._dispatch(request, uid)}
        except ApplianceError as exc:
            return {"ok": False, "kind": type(exc).__name__, "error": str(exc)}

    def _dispatch(self, request: dict[str, Any], uid: int) -> dict[str, Any]:
        op = request.get("op")
        actor = f"{str(request.get('actor') or 'unknown')[:150]} (uid {uid}, control socket)"
        if op == "status":
            pass
        elif op == "unlock":
            passphrase = request.get("passphrase")
            if not isinstance(passphrase, str):
                raise ValidationFailed("unlock needs a passphrase")
            self._keeper.unlock(passphrase, actor)
        elif op == "lock":
            self._keeper.lock(actor)
        else:
            raise ValidationFailed(f"unknown operation {op!r}")
        vault = self._keeper.vault
        return {
            "unlocked": vault.is_unlocked,
            "has_passphrase": vault.has_passphrase,
            "current_key_id": vault.current_key_id(),
            "pid": os.getpid(),
        }


def control_request(path: Path, payload: dict[str, Any], timeout_s: float = 60) -> dict[str, Any]:
    """Send one request to the running appliance; raise its error as the same domain error.

    NotFound when nothing is listening (the appliance is not running).
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NotFound(f"the appliance is not running (no control socket at {path})") from exc
        sock.sendall(json.dumps(payload).encode() + b"\n")
        line = _read_line(sock)
    finally:
        sock.close()
    if not line:
        raise errors.ApplianceError("the appliance closed the control socket without a reply")
    reply: dict[str, Any] = json.loads(line)
    if not reply.get("ok"):
        kind = getattr(errors, str(reply.get("kind")), errors.ApplianceError)
        if not (isinstance(kind, type) and issubclass(kind, ApplianceError)):
            kind = errors.ApplianceError
        raise kind(str(reply.get("error")))
    return reply
