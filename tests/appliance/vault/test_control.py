"""`appliance vault unlock` reaches the running appliance through its control socket."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from appliance.cli import app
from appliance.context import AppContext
from appliance.errors import AuthenticationFailed, NotFound, ValidationFailed
from appliance.ledger import EventType
from appliance.retention.daemon import RetentionDaemon, create
from appliance.vault import Vault
from appliance.vault.control import control_request, socket_path
from tests.support.config import write_config

PASS = "correct horse battery staple"


def test_unlock_through_the_socket_and_the_cli(ctx: AppContext, tmp_path: Path) -> None:
    Vault(ctx.settings.storage.key_dir, ctx.clock, "interactive").set_passphrase(PASS)
    assert not ctx.vault.is_unlocked  # this process "booted" before the unlock
    service = RetentionDaemon(ctx)
    service.start()
    try:
        path = socket_path(ctx.settings)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert control_request(path, {"op": "status"})["unlocked"] is False
        with pytest.raises(AuthenticationFailed, match="wrong vault passphrase"):
            control_request(path, {"op": "unlock", "passphrase": "wrong passphrase", "actor": "t"})
        with pytest.raises(ValidationFailed, match="unknown operation"):
            control_request(path, {"op": "explode"})

        config = write_config(ctx.settings, tmp_path)
        runner = CliRunner()
        bad = runner.invoke(app, ["vault", "unlock", "--config", str(config)], input="nope\n")
        assert bad.exit_code == 2 and "wrong vault passphrase" in bad.output
        assert not ctx.vault.is_unlocked
        good = runner.invoke(app, ["unlock", "--config", str(config)], input=PASS + "\n")
        assert good.exit_code == 0, good.output
        assert ctx.vault.is_unlocked  # the running process's vault, not the CLI's
        entries = ctx.ledger.entries(events=[EventType.vault_unlocked])
        assert len(entries) == 1 and "control socket" in entries[0].actor

        locked = runner.invoke(app, ["vault", "lock", "--config", str(config)])
        assert locked.exit_code == 0 and not ctx.vault.is_unlocked
    finally:
        service.stop()
    assert not socket_path(ctx.settings).exists()
    with pytest.raises(NotFound, match="not running"):
        control_request(socket_path(ctx.settings), {"op": "status"})


def test_service_runs_cycles_until_stopped(ctx: AppContext) -> None:
    service = create(ctx)
    assert service.name == "retention"
    report = service.run_once()
    assert report is not None and service.cycles == 1
    service.start()
    assert service.alive()
    service.stop()
    assert not service.alive()
