"""The backup socket: how ``appliance backup`` (a systemd timer, an operator) asks the running
appliance for a backup, since only that process holds the unsealed signing key.

``<data_dir>/backup.sock``, an ``appliance.local_socket`` server like the vault's control
socket (0600, root or the appliance's own user, one JSON line each way;
``appliance.vault.control.control_request`` is the client). Operation ``backup`` with an
optional ``out`` directory, ``keep`` and ``config`` (the configuration file the archive should
carry); the reply names the archive. One request at a time, and never at the same time as the
daemon's own round.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.errors import ValidationFailed
from appliance.local_socket import LocalSocketServer

__all__ = ["BackupControl", "backup_socket_path"]

#: Takes (out directory or None, keep or None, the configuration file or None, actor) and
#: returns the reply fields.
TakeBackup = Callable[[Path | None, int | None, Path | None, str], dict[str, Any]]


def backup_socket_path(data_dir: Path) -> Path:
    return data_dir / "backup.sock"


class BackupControl:
    """Serves ``backup.sock`` in a background thread for the backup daemon."""

    def __init__(self, path: Path, take: TakeBackup) -> None:
        self.path = path
        self._take = take
        self._server = LocalSocketServer(
            path,
            self._dispatch,
            name="backup-control",
            reply_timeout_s=600,
            backlog=4,
            exclusive=False,
            refusal="only root or the appliance's user may ask for a backup",
        )

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def _dispatch(self, request: dict[str, Any], uid: int) -> dict[str, Any]:
        if request.get("op") != "backup":
            raise ValidationFailed("unknown operation")
        out = request.get("out")
        keep = request.get("keep")
        config = request.get("config")
        actor = f"{str(request.get('actor') or 'unknown')[:150]} (uid {uid}, backup socket)"
        return self._take(
            Path(out) if isinstance(out, str) else None,
            keep if isinstance(keep, int) else None,
            Path(config) if isinstance(config, str) else None,
            actor,
        )
