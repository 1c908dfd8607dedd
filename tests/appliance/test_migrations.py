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
