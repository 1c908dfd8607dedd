"""The backup daemon's schedule, retention (keep N) and alarm; PostgreSQL through pg_dump and
pg_restore (design/backup.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from appliance.alarms import AlarmKind, open_alarms
from appliance.backup import (
    check_archive,
    list_archives,
    restore_backup,
    set_backup_passphrase,
    take_backup,
)
from appliance.backup.daemon import BackupDaemon
from appliance.cli import app
from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.keys import load_verify_key
from appliance.ledger.events import EventType
from appliance.ledger.heads import fingerprint_text
from appliance.settings import Settings, load_settings
from tests.support.config import SettingsFactory, base_config, to_toml

BACKUP = "backup passphrase, kept off the box"


def _alarm_open(ctx: AppContext) -> bool:
    with ctx.db.session() as session:
        return any(a.kind == AlarmKind.backup_failed for a in open_alarms(session))


def test_schedule_keeps_n_archives_and_alarms_when_it_cannot_write(
    make_settings: SettingsFactory, clock: FakeClock, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    settings = make_settings(backup={"dir": str(backups), "interval_s": 3600, "keep": 2})
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    try:
        daemon = BackupDaemon(ctx)
        # No backup passphrase yet: the due backup fails and says so.
        assert daemon.run_once() is None and _alarm_open(ctx)
        set_backup_passphrase(settings.storage.key_dir, BACKUP, "interactive", clock.now_ms())
        first = daemon.run_once()
        assert first is not None and not _alarm_open(ctx)
        clock.advance(3599)
        assert not daemon.due() and daemon.run_once() is None
        written = [first.path]
        for _ in range(3):
            clock.advance(3600)
            result = daemon.run_once()
            assert result is not None
            written.append(result.path)
        assert list_archives(backups) == written[-2:]  # keep = 2, the older ones destroyed
        assert not any(p.exists() for p in written[:-2])
        taken = [e for e in ctx.ledger.entries() if e.event == EventType.backup_taken]
        assert [e.data["file"] for e in taken] == [p.name for p in written]
        for path in written[-2:]:
            header, signer = check_archive(path, fingerprint_text(ctx.ledger.verify_key))
            assert header["site"] == settings.site.name and signer
        assert ctx.ledger.verify().ok
    finally:
        ctx.close()


@pytest.mark.postgres
def test_postgres_backup_restores_onto_an_empty_database(
    pg_server: object, pg_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    from tests.support.postgres import PostgresServer

    assert isinstance(pg_server, PostgresServer)
    runner = CliRunner()
    old = base_config(tmp_path / "old")
    old["database"] = {"url": pg_url}
    settings = Settings(**old)
    initialize(settings, clock, insecure_no_passphrase=True)
    set_backup_passphrase(settings.storage.key_dir, BACKUP, "interactive", clock.now_ms())
    pin = fingerprint_text(load_verify_key(settings.storage.key_dir))
    ctx = AppContext.open(settings, clock)
    try:
        for n in range(5):
            ctx.ledger.append(EventType.config_changed, actor="test", data={"n": n})
        entries = [(e.seq, e.event) for e in ctx.ledger.entries()]
        result = take_backup(ctx, tmp_path / "backups")
    finally:
        ctx.close()

    # The new box: its own dirs and an empty PostgreSQL database.
    new = base_config(tmp_path / "new")
    new["database"] = {"url": pg_server.create_database()}
    config = tmp_path / "new.toml"
    config.write_text(to_toml(new), encoding="utf-8")
    # The restore and `ledger verify` run on the real clock (continuity is checked against it).
    report = restore_backup(result.path, config, BACKUP, pinned_fingerprint=pin)
    assert report.head_signed and report.schema_now == report.schema_in_archive
    with pytest.raises(Exception, match="not empty"):
        restore_backup(result.path, config, BACKUP)
    verified = runner.invoke(
        app, ["ledger", "verify", "--config", str(config), "--key-fingerprint", pin]
    )
    assert verified.exit_code == 0, verified.output
    restored = AppContext.open(load_settings(config))
    try:
        after = [(e.seq, e.event) for e in restored.ledger.entries()]
        assert after[: len(entries)] == entries
        assert EventType.backup_restored in [event for _, event in after]
    finally:
        restored.close()
