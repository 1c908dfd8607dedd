"""The ``backup`` daemon of ``appliance run``: an archive every ``backup.interval_s`` into
``backup.dir``, keeping ``backup.keep`` (design/backup.md, "Schedule").

It runs inside the appliance because the archive is signed with the ledger signing key, which
the process holds from the first vault unlock after a start; a separate process would need the
vault passphrase. So the daemon also serves ``<data_dir>/backup.sock`` (``control``), through
which ``appliance backup`` (an operator, or a systemd timer) asks it for an archive now.
A round that is due and fails (vault never unlocked, no backup passphrase set, the backup
disk not mounted or full) raises ``backup_failed``; the next success clears it. Whether a
backup is due is read from the newest archive's time (in its name), so a restart does not take
an extra one.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.alarms import AlarmKind, clear_alarm, raise_alarm
from appliance.backup.control import BackupControl, backup_socket_path
from appliance.backup.take import BackupResult, archive_time_ms, list_archives, take_backup
from appliance.errors import ValidationFailed

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["CHECK_EVERY_S", "BackupDaemon", "create", "last_backup_ms"]

log = logging.getLogger(__name__)

CHECK_EVERY_S = 60


def last_backup_ms(directory: Path) -> int | None:
    """When the newest archive in ``directory`` was taken (the time in its name), or None."""
    archives = list_archives(directory)
    return archive_time_ms(archives[-1]) if archives else None


class BackupDaemon:
    """Checks every minute whether a backup is due and takes it."""

    name = "backup"

    def __init__(
        self, ctx: AppContext, *, check_every_s: float = CHECK_EVERY_S, control: bool = True
    ) -> None:
        self._ctx = ctx
        self._check_every_s = check_every_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one backup at a time: the schedule or the socket
        self.last: BackupResult | None = None
        self.control = (
            BackupControl(backup_socket_path(ctx.settings.storage.data_dir), self.on_request)
            if control
            else None
        )

    def start(self) -> None:
        if self.control is not None:
            self.control.start()
        self._thread = threading.Thread(target=self._run, name="backup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(120)
        if self.control is not None:
            self.control.stop()

    def on_request(
        self, out: Path | None, keep: int | None, config_file: Path | None, actor: str
    ) -> dict[str, Any]:
        """A backup asked for over the socket: into ``out`` (default ``backup.dir``, with its
        ``keep``), carrying ``config_file``; raises the domain error to send back."""
        schedule = self._ctx.settings.backup
        directory = out or schedule.dir
        if directory is None:
            raise ValidationFailed("no backup directory: pass --out or set backup.dir")
        if keep is None and out is None:
            keep = schedule.keep
        with self._lock:
            result = take_backup(
                self._ctx, directory, keep=keep, config_path=config_file, actor=actor
            )
        self.last = result
        return {
            "path": str(result.path),
            "size_bytes": result.size_bytes,
            "digest": result.digest,
            "head_seq": result.head_seq,
            "schema": result.schema,
            "pruned": [str(p) for p in result.pruned],
        }

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.run_once()
            self._stopping.wait(self._check_every_s)

    def due(self) -> bool:
        config = self._ctx.settings.backup
        if config.dir is None:
            return False
        last = last_backup_ms(config.dir)
        return last is None or self._ctx.clock.now_ms() - last >= config.interval_s * 1000

    def run_once(self) -> BackupResult | None:
        """Take a backup if one is due; never raises (failures are logged and alarmed)."""
        config = self._ctx.settings.backup
        if config.dir is None or not self.due():
            return None
        now = self._ctx.clock.now_ms()
        try:
            with self._lock:
                result = take_backup(self._ctx, config.dir, keep=config.keep)
        except Exception as exc:
            log.exception("scheduled backup failed")
            try:
                with self._ctx.db.session() as session:
                    raise_alarm(
                        session,
                        AlarmKind.backup_failed,
                        f"the backup could not be written: {exc}",
                        now,
                    )
            except Exception:
                log.exception("could not record the backup alarm")
            return None
        with self._ctx.db.session() as session:
            clear_alarm(session, AlarmKind.backup_failed, now)
        self.last = result
        log.info("backup written: %s (%d bytes)", result.path, result.size_bytes)
        return result


def create(ctx: AppContext) -> BackupDaemon:
    """Entry point ``appliance.daemons: backup``."""
    return BackupDaemon(ctx)
