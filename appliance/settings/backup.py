"""The ``[backup]`` section: where, how often and how many encrypted backups (design/backup.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from appliance.settings._base import _Section

__all__ = ["BackupConfig"]


class BackupConfig(_Section):
    """Scheduled backups of the database, the key dir, the config and the ledger head."""

    dir: Path | None = Field(
        default=None,
        description="Directory (or mounted disk) the backup daemon writes archives to; unset: no "
        "scheduled backups (`appliance backup --out DIR` still works).",
    )
    interval_s: int = Field(
        default=86_400,
        ge=600,
        le=7 * 86_400,
        description="How often the backup daemon writes an archive (footage recorded after the "
        "last backup cannot be opened after a restore: its keys were only in the database).",
    )
    keep: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Archives kept in `dir`; older ones are overwritten and deleted, which bounds "
        "how long a backup can re-open footage deleted since (design/backup.md).",
    )
