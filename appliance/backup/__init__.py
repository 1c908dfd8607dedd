"""Backup, restore and safe upgrades (issue 18; design/backup.md).

``take`` writes an encrypted, signed archive of the database, the key dir, the config and the
ledger head (never footage); ``restore`` puts one onto a fresh box and ``replay`` destroys
again what was destroyed since the backup, so a restore never resurrects a destroyed key;
``upgrade``/``schema`` migrate with a copy taken first and report whether the schema matches
the code; ``daemon`` runs the schedule. The archive format is ``archive``, the backup key
(derived from its own passphrase) ``backup_key``, the database copies ``snapshot``.
"""

from __future__ import annotations

from appliance.backup.archive import ArchiveDamaged
from appliance.backup.backup_key import has_backup_key, set_backup_passphrase
from appliance.backup.restore import RestoreReport, check_archive, restore_backup
from appliance.backup.schema import MigrationFailed, SchemaState, schema_state
from appliance.backup.take import BackupResult, list_archives, prune_archives, take_backup
from appliance.backup.upgrade import upgrade_database

__all__ = [
    "ArchiveDamaged",
    "BackupResult",
    "MigrationFailed",
    "RestoreReport",
    "SchemaState",
    "check_archive",
    "has_backup_key",
    "list_archives",
    "prune_archives",
    "restore_backup",
    "schema_state",
    "set_backup_passphrase",
    "take_backup",
    "upgrade_database",
]
