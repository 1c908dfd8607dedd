"""``appliance user ...`` end to end on an initialised appliance (real config file, database)."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from appliance.access import AccessService
from appliance.cli import app
from appliance.context import AppContext
from appliance.errors import AuthenticationFailed
from appliance.ledger import EventType
from tests.support.config import base_config, write_toml


def test_user_commands(ctx: AppContext, tmp_path: Path) -> None:
    config = ["--config", str(write_toml(tmp_path, base_config(tmp_path)))]
    runner = CliRunner(env={"COLUMNS": "200"})

    def run(*args: str) -> str:
        result = runner.invoke(app, ["user", args[0], *config, *args[1:]])
        assert result.exit_code == 0, result.output
        return result.output

    added = run(
        "add", "nurse.kim", "--role", "viewer", "--name", "김간호", "--department", "간호부"
    )
    password = re.search(r"password: (\S+)", added)
    assert password is not None
    assert "nurse.kim" in run("grant", "nurse.kim", "cam01", "cam02")
    assert "cam02" not in run("grant", "nurse.kim", "cam02", "--revoke").split("view:")[1]
    listing = run("list")
    assert "nurse.kim" in listing and "간호부" in listing and "cam01" in listing

    access = AccessService(ctx.db, ctx.clock, ctx.settings.server, ctx.ledger)
    assert access.login("nurse.kim", password.group(1)).principal.must_change_password
    new = re.search(r"nurse.kim: (\S+)", run("reset-password", "nurse.kim"))
    assert new is not None
    assert "disabled" in run("disable", "nurse.kim", "--reason", "퇴사")
    try:
        access.login("nurse.kim", new.group(1))
        raise AssertionError("a disabled account signed in")
    except AuthenticationFailed:
        pass
    run("enable", "nurse.kim")
    access.login("nurse.kim", new.group(1))
    assert "off" in run("totp", "nurse.kim")

    run("add", "police", "--role", "agency", "--name", "강남경찰서")
    issued = run("token", "police", "--name", "수사 2026-17", "--scope", "requests:read")
    assert re.search(r"cctv_\S+", issued)

    actors = {e.actor for e in ctx.ledger.entries(events=[EventType.user_created], limit=None)}
    assert any(a.startswith("cli:") for a in actors)
    grants = ctx.ledger.entries(events=[EventType.grant_changed], limit=None)
    assert [e.data.get("granted") for e in grants] == [True, False, True]

    # A refusal is one line and a non-zero exit, never a traceback.
    refused = runner.invoke(app, ["user", "grant", *config, "police", "cam01"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "does not take camera grants" in refused.output
