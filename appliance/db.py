"""Database engine, sessions, migrations, and scrubbing the remnants of deleted rows.

SQLite (WAL, ``synchronous=FULL``, foreign keys on, ``secure_delete``, a bounded WAL file) is the
embedded default; PostgreSQL runs the same models and the same Alembic migrations. Migrations are
applied on start (``migrate``).

Deleting a row does not remove its bytes from the database's files: SQLite leaves them in free
space, on freelist pages and in old ``-wal`` frames, PostgreSQL in dead tuples and WAL. Code
that destroys key material marks the tables it deleted from (``mark_remnants``) and calls
``scrub_remnants``; see design/retention.md, "Database remnants".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session

__all__ = [
    "JOURNAL_SIZE_LIMIT",
    "SQLITE_PRAGMAS",
    "Database",
    "RemnantsNotScrubbed",
    "alembic_config",
    "downgrade",
    "make_engine",
    "migrate",
]

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"

#: Bytes a SQLite ``-wal`` file may keep after a checkpoint resets it (``journal_size_limit``):
#: without it the file keeps its largest size, and stale frames (deleted rows) with it.
JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024


class RemnantsNotScrubbed(RuntimeError):
    """A checkpoint or VACUUM could not complete (busy readers, a lock): retried later."""


#: Run on every new SQLite connection. ``secure_delete`` overwrites deleted content with zeros
#: (freed cell space, freelist pages), so a destroyed sealed key does not survive in the main
#: file once its page is checkpointed; ``journal_size_limit`` bounds the ``-wal`` left behind.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA secure_delete=ON",
    f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}",
)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine with the appliance's connection settings for SQLite or PostgreSQL."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, pool_pre_ping=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "heads") -> None:
    """Upgrade the schema to ``revision`` (all heads by default)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


class Database:
    """The engine plus a session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # Tables with deleted key material whose bytes may remain in the files (not scrubbed
        # yet, or the last scrub failed): scrub_remnants retries until it succeeds.
        self.unscrubbed: set[str] = set()

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def migrate(self) -> None:
        migrate(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def mark_remnants(self, tables: Iterable[str]) -> None:
        """Note that rows holding key material were deleted (or overwritten) in ``tables``."""
        self.unscrubbed.update(tables)

    def scrub_remnants(self) -> bool:
        """Reclaim what deleted rows left in the database files; True when nothing is left.

        SQLite: ``PRAGMA wal_checkpoint(TRUNCATE)`` writes the zeroed pages (``secure_delete``)
        into the main file and truncates the ``-wal`` to zero bytes. PostgreSQL: ``VACUUM`` of
        the marked tables on an autocommit connection (VACUUM cannot run in a transaction).
        A failure (readers keeping the checkpoint busy, a lock, a lost connection) is logged
        and the tables stay marked for the next call; it never raises.
        """
        if not self.unscrubbed:
            return True
        tables = sorted(self.unscrubbed)
        try:
            if self.is_sqlite:
                self._checkpoint_truncate()
            else:
                self._vacuum(tables)
        except Exception as exc:  # a failed scrub must not fail the purge that needed it
            log.warning("database remnants of %s not scrubbed, retried later: %s", tables, exc)
            return False
        self.unscrubbed.difference_update(tables)
        return True

    def _checkpoint_truncate(self) -> None:
        with self.engine.connect() as conn:
            busy, log_frames, checkpointed = conn.exec_driver_sql(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).one()
            conn.rollback()
        if busy:
            raise RemnantsNotScrubbed(
                f"wal_checkpoint(TRUNCATE) busy: {checkpointed} of {log_frames} frames copied"
            )

    def _vacuum(self, tables: Sequence[str]) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            quote = conn.dialect.identifier_preparer.quote
            conn.exec_driver_sql("VACUUM " + ", ".join(quote(t) for t in tables))

    def dispose(self) -> None:
        self.engine.dispose()
