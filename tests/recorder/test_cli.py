"""``appliance recorder status`` and ``appliance recorder reconcile``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from appliance.cli import app
from appliance.context import AppContext
from recorder.status import CameraState, FailReason, StatusBoard
from tests.support.config import base_config, to_toml


def test_status_and_reconcile(ctx: AppContext, tmp_path: Path) -> None:
    config = tmp_path / "appliance.toml"
    config.write_text(to_toml(base_config(tmp_path)), encoding="utf-8")
    board = StatusBoard(ctx.db, ctx.clock)
    board.set("cam01", CameraState.recording)
    board.set("cam02", CameraState.failed, FailReason.unauthorized, "401 Unauthorized")
    runner = CliRunner()

    status = runner.invoke(app, ["recorder", "status", "--config", str(config)])
    assert status.exit_code == 0, status.output
    assert "recording" in status.output and "unauthorized" in status.output
    assert "never started" in status.output  # cam03

    stray = ctx.settings.segments_dir / "cam01" / "2026" / "03" / "01" / ".1-x.seg.tmp"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"partial ciphertext")
    reconcile = runner.invoke(app, ["recorder", "reconcile", "--config", str(config)])
    assert reconcile.exit_code == 0, reconcile.output
    assert "temp deleted: 1" in reconcile.output
    assert not stray.exists()
