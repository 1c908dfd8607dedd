"""Upgrades: a failed migration rolls back to the copy taken first; ``version --check``;
``appliance upgrade`` (design/backup.md, "Upgrades")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from typer.testing import CliRunner

import appliance.db
from appliance.backup import MigrationFailed, schema_state, upgrade_database
from appliance.backup.schema import code_heads
from appliance.cli import app
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.db import alembic_config, downgrade
from appliance.ledger.events import EventType
from appliance.settings import Settings
from tests.support.config import write_config

# Work that escapes the migration's transaction (as PostgreSQL's CREATE INDEX CONCURRENTLY or
# SQLite's table rebuilds outside a transaction do), then a failure: only the copy can undo it.
FAILING = '''"""fails half way

Revision ID: 0099
Revises: {head}
"""

import sqlalchemy as sa
from alembic import op

revision = "0099"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_table("policy_version")
        op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    raise RuntimeError("migration 0099 failed half way")


def downgrade() -> None:
    pass
'''


def _migrations_with_a_failing_one(tmp_path: Path, url: str) -> Path:
    scripts = tmp_path / "migrations"
    shutil.copytree(Path(appliance.db.__file__).parent / "migrations", scripts)
    (scripts / "versions" / "0099_fails.py").write_text(
        FAILING.format(head=code_heads(url)[0]), encoding="utf-8"
    )
    return scripts


def _tables(ctx: AppContext) -> set[str]:
    return set(inspect(ctx.db.engine).get_table_names())


def test_a_failed_migration_rolls_back_to_the_copy(
    ctx: AppContext, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    url = settings.database_url
    before = schema_state(url)
    assert before.matches and "policy_version" in _tables(ctx)
    ctx.ledger.append(EventType.config_changed, actor="test", data={"what": "before"})
    scripts = _migrations_with_a_failing_one(tmp_path, url)

    with pytest.raises(MigrationFailed, match="rolled back"):
        upgrade_database(settings, clock, script_location=scripts)
    ctx.db.engine.dispose()  # connections opened on the replaced file
    assert schema_state(url).database == before.database
    tables = _tables(ctx)
    assert "policy_version" in tables and "half_done" not in tables
    assert ctx.ledger.verify().ok

    # The same migration without the copy leaves the damage: what the rollback undid.
    config = alembic_config(url)
    config.set_main_option("script_location", str(scripts))
    with pytest.raises(RuntimeError, match="half way"):
        command.upgrade(config, "heads")
    ctx.db.engine.dispose()
    assert "policy_version" not in _tables(ctx) and "half_done" in _tables(ctx)


def test_version_check_and_upgrade(ctx: AppContext, settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    config = str(write_config(settings, tmp_path))
    head = schema_state(settings.database_url).code
    current = runner.invoke(app, ["version", "--check", "--config", config])
    assert current.exit_code == 0 and "matches" in current.output

    ctx.db.engine.dispose()
    downgrade(settings.database_url, "0012")
    behind = runner.invoke(app, ["version", "--check", "--config", config])
    assert behind.exit_code == 1 and "behind" in behind.output and head in behind.output

    upgraded = runner.invoke(app, ["upgrade", "--config", config])
    assert upgraded.exit_code == 0, upgraded.output
    assert runner.invoke(app, ["version", "--check", "--config", config]).exit_code == 0
    entries = [e for e in ctx.ledger.entries() if e.event == EventType.schema_upgraded]
    assert [e.data for e in entries] == [{"from": "0012", "to": head}]
    assert ctx.ledger.verify().ok

    with ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    newer = runner.invoke(app, ["version", "--check", "--config", config])
    assert newer.exit_code == 1 and "is newer" in newer.output
    refused = runner.invoke(app, ["upgrade", "--config", config])
    assert refused.exit_code == 2 and "newer" in refused.output
