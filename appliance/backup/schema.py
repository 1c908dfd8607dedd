"""Schema versions and safe upgrades: does the database match the code, and migrating with a
copy taken first that a failed migration is rolled back to (design/backup.md, "Upgrades").

The copy is of the database only (a migration touches nothing else): SQLite's backup API into
memory, or ``pg_dump``, held in memory, never written to disk (it holds sealed keys that a
purge may destroy later), and put back with ``load_database(..., replace=True)`` when the
migration raises. A copy of a very large database therefore needs that much memory once per
upgrade.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from appliance.db import alembic_config, make_engine
from appliance.errors import ApplianceError

__all__ = [
    "MigrationFailed",
    "SchemaState",
    "code_heads",
    "current_revision",
    "schema_state",
    "upgrade_with_rollback",
]

log = logging.getLogger(__name__)


class MigrationFailed(ApplianceError):
    """A migration raised; the database was put back as it was before the upgrade."""


@dataclass(frozen=True)
class SchemaState:
    """The database's revision against the code's."""

    database: str | None  # None: no schema yet
    code: str
    known: bool  # the database's revision exists in the code's history

    @property
    def matches(self) -> bool:
        return self.database == self.code

    def describe(self) -> str:
        if self.matches:
            return f"schema {self.code}: matches the code"
        if self.database is None:
            return f"no schema yet (the code expects {self.code}; `appliance init` creates it)"
        if not self.known:
            return (
                f"schema {self.database} is unknown to this code (it expects {self.code}): the "
                "database is newer than the code; do not run this version against it"
            )
        return (
            f"schema {self.database} is behind the code ({self.code}): `appliance upgrade` "
            "migrates it (a copy is taken first)"
        )


def _config(url: str, script_location: Path | None) -> Config:
    config = alembic_config(url)
    if script_location is not None:
        config.set_main_option("script_location", str(script_location))
    return config


def code_heads(url: str, script_location: Path | None = None) -> list[str]:
    script = ScriptDirectory.from_config(_config(url, script_location))
    return list(script.get_heads())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(heads)) if heads else None


def schema_state(url: str, script_location: Path | None = None) -> SchemaState:
    """Where the database at ``url`` stands against the migrations of this code."""
    engine = make_engine(url)
    try:
        database = current_revision(engine)
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(_config(url, script_location))
    code = ",".join(sorted(script.get_heads()))
    known = True
    if database is not None:
        for revision in database.split(","):
            try:
                known = known and script.get_revision(revision) is not None
            except Exception:  # alembic raises its own ResolutionError for an unknown id
                known = False
    return SchemaState(database, code, known)


def upgrade_with_rollback(
    url: str,
    copy: bytes | None,
    restore: Callable[[bytes], None],
    script_location: Path | None = None,
) -> SchemaState:
    """Migrate ``url`` to the code's head; on failure call ``restore(copy)`` and raise.

    ``copy`` is the database as it was (``None`` for a database without a schema: nothing to
    roll back to); ``restore`` puts it back (``load_database`` bound to the settings).
    """
    before = schema_state(url, script_location)
    if before.matches:
        return before
    if not before.known:
        raise MigrationFailed(before.describe())
    try:
        command.upgrade(_config(url, script_location), "heads")
    except Exception as exc:
        log.exception("migration from %s failed", before.database)
        if copy is not None:
            restore(copy)
        after = schema_state(url, script_location)
        raise MigrationFailed(
            f"the migration from {before.database} to {before.code} failed ({exc}); the "
            f"database was rolled back to its copy (now at {after.database})"
        ) from exc
    return schema_state(url, script_location)
