"""The local control socket: how ``appliance vault unlock`` reaches the running appliance.

``<data_dir>/control.sock``, an ``appliance.local_socket`` server (0600, root or the
appliance's own user, one JSON object per line each way). Requests are served one at a time,
which also rate-limits passphrase guessing to one argon2id derivation at a time.

Operations: ``status``, ``unlock`` (``passphrase``, ``actor``), ``lock`` (``actor``).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance import errors
from appliance.errors import ApplianceError, NotFound, ValidationFailed
from appliance.local_socket import LocalSocketServer, read_line
from appliance.vault.registry import VaultKeeper

if TYPE_CHECKING:
    from appliance.settings import Settings

__all__ = ["ControlServer", "control_request", "socket_path"]


def socket_path(settings: Settings) -> Path:
    return settings.storage.data_dir / "control.sock"


class ControlServer:
    """Serves the control socket for one process's vault in a background thread."""

    def __init__(self, keeper: VaultKeeper, path: Path) -> None:
        self._keeper = keeper
        self.path = path
        self._server = LocalSocketServer(
            path,
            self._dispatch,
            name="vault-control",
            reply_timeout_s=10,
            backlog=8,
            exclusive=True,
            refusal="only root or the appliance's user may use this socket",
        )

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def alive(self) -> bool:
        return self._server.alive()

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
        line = read_line(sock)
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
