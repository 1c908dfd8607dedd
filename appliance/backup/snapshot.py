"""Online copies of the database and putting one back: SQLite's backup API, ``pg_dump``.

SQLite: the backup API copies a consistent snapshot into an in-memory database while the
appliance keeps writing (WAL readers do not block writers); the copy is minimised there (sealed
keys of footage already due for purge are nulled, ``secure_delete`` on, then ``VACUUM``) and
serialised: no copy of the database, and none of a purged key, is written to disk by the
backup. PostgreSQL: ``pg_dump --format=custom`` to a pipe (one consistent snapshot) and
``pg_restore`` into the configured, empty database. A PostgreSQL dump is not minimised; the
restore's replay destroys what was due (design/backup.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import and_, create_engine, update
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from appliance.errors import ApplianceError, Conflict
from appliance.retention._tables import SEGMENT
from appliance.retention.holds import held_segment_clause
from appliance.retention.policy import Rule
from appliance.settings import Settings

__all__ = [
    "DatabaseCopyFailed",
    "database_is_empty",
    "dump_database",
    "load_database",
    "pg_url",
    "sqlite_path",
]


class DatabaseCopyFailed(ApplianceError):
    """``pg_dump``/``pg_restore`` failed, or the SQLite copy could not be made."""


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def pg_url(url: str) -> str:
    """The libpq URI of a SQLAlchemy PostgreSQL URL (``+psycopg`` dropped)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def dump_database(settings: Settings, now_ms: int, *, minimise: bool = True) -> bytes:
    """A consistent copy of the running database, as bytes; ``minimise`` nulls (SQLite) the
    sealed keys of footage due for purge at ``now_ms`` (off for a copy to roll back to)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        return _sqlite_copy(sqlite_path(url), settings, now_ms if minimise else None)
    proc = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--dbname", pg_url(url)],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise DatabaseCopyFailed(f"pg_dump failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


@contextlib.contextmanager
def _engine_on(conn: sqlite3.Connection) -> Iterator[Engine]:
    # Not disposed: a StaticPool's dispose closes ``conn``, which the caller still needs.
    yield create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)


def _sqlite_copy(path: Path, settings: Settings, now_ms: int | None) -> bytes:
    if not path.exists():
        raise DatabaseCopyFailed(f"no database at {path}")
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    mem = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        src.backup(mem)
        src.close()
        if now_ms is not None:
            mem.execute("PRAGMA secure_delete=ON")
            with _engine_on(mem) as engine:
                _minimise(engine, settings, now_ms)
            mem.execute("VACUUM")
        return bytes(mem.serialize())
    finally:
        mem.close()


def _minimise(engine: Engine, settings: Settings, now_ms: int) -> int:
    """Null the sealed keys of footage already due for purge at ``now_ms`` in the copy.

    Such footage is gone from the box within one purge cycle; the backup must not outlive it
    with its key. Held footage keeps its key, as on the box.
    """
    groups = {g.name: Rule(g.min_days, g.max_days) for g in settings.groups}
    nulled = 0
    with engine.begin() as conn:
        cameras = conn.exec_driver_sql("SELECT id, group_name FROM camera").all()
        for camera_id, group_name in cameras:
            rule = groups.get(str(group_name))
            if rule is None:
                continue  # as the purge does: no known rule, nothing destroyed
            start_cut, end_cut = rule.cutoffs(now_ms)
            result = conn.execute(
                update(SEGMENT)
                .where(
                    and_(
                        SEGMENT.c.camera_id == camera_id,
                        SEGMENT.c.start_ms <= start_cut,
                        SEGMENT.c.end_ms <= end_cut,
                        SEGMENT.c.sealed_key.is_not(None),
                        ~held_segment_clause(),
                    )
                )
                .values(sealed_key=None)
            )
            nulled += result.rowcount
    return nulled


def database_is_empty(settings: Settings) -> bool:
    """True when the configured database has no appliance tables (a fresh box)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        return not path.exists() or path.stat().st_size == 0
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            count = conn.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).scalar()
    finally:
        engine.dispose()
    return not count


def load_database(settings: Settings, data: bytes, *, replace: bool = False) -> None:
    """Put a copy made by ``dump_database`` in place of the configured database.

    Refuses to overwrite a database that exists unless ``replace`` (a failed migration rolled
    back to its copy).
    """
    url = settings.database_url
    if url.startswith("sqlite"):
        _write_sqlite(sqlite_path(url), data, replace=replace)
        return
    if not replace and not database_is_empty(settings):
        raise Conflict("the configured PostgreSQL database is not empty: restore onto an empty one")
    if replace:
        _psql(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    proc = subprocess.run(
        ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", pg_url(url)],
        input=data,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise DatabaseCopyFailed(f"pg_restore failed: {proc.stderr.decode(errors='replace')}")


def _psql(url: str, sql: str) -> None:
    proc = subprocess.run(
        ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--dbname", pg_url(url), "-c", sql],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise DatabaseCopyFailed(f"psql failed: {proc.stderr.decode(errors='replace')}")


def _write_sqlite(path: Path, data: bytes, *, replace: bool) -> None:
    if path.exists() and path.stat().st_size and not replace:
        raise Conflict(f"{path} exists: restore onto a fresh data dir")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.restore")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    for suffix in ("-wal", "-shm"):  # frames of the replaced database must not be replayed
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    tmp.rename(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
