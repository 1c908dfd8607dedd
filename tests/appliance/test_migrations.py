"""Migrations run up and down on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from appliance.db import downgrade, make_engine, migrate
from appliance.models import metadata


def _roundtrip(url: str) -> None:
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {"camera", "account", "segment", "recording_run", "gap"} <= tables
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
    downgrade(url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    migrate(url)  # and up again
    engine.dispose()


def test_sqlite_up_down(tmp_path: Path) -> None:
    _roundtrip(f"sqlite:///{tmp_path / 'a.db'}")


@pytest.mark.postgres
def test_postgres_up_down(pg_url: str) -> None:
    _roundtrip(pg_url)


def test_history_is_linear() -> None:
    """One head: a PostgreSQL site upgrades through one ordered path."""
    from alembic.script import ScriptDirectory

    from appliance.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()


def _digest_migration(url: str) -> None:
    """0007 keeps a format 1 segment's BLAKE2b digest, labelled, and takes the label off again
    on the way down."""
    from sqlalchemy import text

    migrate(url, "0006")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO camera (id, name, location, location_type, group_name, "
                          "enabled, in_config, created_ms, updated_ms) VALUES ('c1', 'c', 'l', "
                          "'lobby', 'g', true, true, 1, 1)"))  # fmt: skip
        conn.execute(text("INSERT INTO segment (camera_id, start_ms, end_ms, path, size_bytes, "
                          "blake2b_hex, vault_key_id, codec, width, height, frames, key_frames, "
                          "has_audio, created_ms) VALUES ('c1', 1, 2, 'p', 3, :d, 'k', 'h264', "
                          "1, 1, 1, 1, false, 1)"), {"d": "ab" * 32})  # fmt: skip
    migrate(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT digest FROM segment")).scalar() == "blake2b:" + "ab" * 32
    downgrade(url, "0006")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT blake2b_hex FROM segment")).scalar() == "ab" * 32
    engine.dispose()


def test_segment_digest_migration_sqlite(tmp_path: Path) -> None:
    _digest_migration(f"sqlite:///{tmp_path / 'a.db'}")


@pytest.mark.postgres
def test_segment_digest_migration_postgres(pg_url: str) -> None:
    _digest_migration(pg_url)
