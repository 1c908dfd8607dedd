"""``appliance upgrade`` and the start of ``appliance run``: migrate with a copy taken first.

A database without a schema (first start) is simply migrated. One behind the code is copied
(``dump_database(minimise=False)``: an exact copy, in memory), migrated, and on a failure put
back from the copy (``MigrationFailed`` names both revisions); a successful upgrade is recorded
in the ledger (``schema_upgraded``). A database newer than the code is refused: an older
appliance must not write to it.
"""

from __future__ import annotations

from pathlib import Path

from appliance.backup.schema import SchemaState, schema_state, upgrade_with_rollback
from appliance.backup.snapshot import dump_database, load_database
from appliance.clock import Clock
from appliance.db import Database, migrate
from appliance.ledger import Ledger
from appliance.ledger.events import EventType
from appliance.settings import Settings

__all__ = ["upgrade_database"]


def upgrade_database(
    settings: Settings,
    clock: Clock,
    *,
    script_location: Path | None = None,
    actor: str = "upgrade",
) -> SchemaState:
    """Bring the configured database to the code's schema, safely; return the new state."""
    url = settings.database_url
    before = schema_state(url, script_location)
    if before.matches:
        return before
    if before.database is None:
        if script_location is None:
            migrate(url)
            return schema_state(url)
        return upgrade_with_rollback(url, None, lambda _data: None, script_location)
    copy = dump_database(settings, clock.now_ms(), minimise=False)
    after = upgrade_with_rollback(
        url,
        copy,
        lambda data: load_database(settings, data, replace=True),
        script_location,
    )
    db = Database(url)
    try:
        Ledger.open(settings, db, clock).append(
            EventType.schema_upgraded,
            actor=actor,
            data={"from": before.database, "to": after.database},
        )
    finally:
        db.dispose()
    return after
