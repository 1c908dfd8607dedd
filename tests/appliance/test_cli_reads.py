"""Issue 13, finding 7: the CLI's reads of personal records (``ledger export``, ``user list``,
``hold list``) are accesses (R-SEC-3). Each leaves a ledger entry naming the local OS user,
written before the data is shown; with a ledger that cannot be written nothing is shown."""

from __future__ import annotations

import getpass
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from appliance.access import AccessService, Principal
from appliance.cli import app
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.retention import place_hold
from tests.support.config import base_config, write_toml

runner = CliRunner(env={"COLUMNS": "200"})


def _config(tmp_path: Path) -> list[str]:
    return ["--config", str(write_toml(tmp_path, base_config(tmp_path)))]


def _break_ledger(ctx: AppContext) -> None:
    """A real broken ledger: its tip row is gone, so no entry can be chained."""
    with ctx.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_tip"))


def test_ledger_export_is_ledgered_before_the_file_is_written(
    ctx: AppContext, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    ctx.ledger.append(EventType.provision, actor="kim", camera_id="cam01", data={"recipient": "x"})
    out = tmp_path / "관리대장.csv"
    args = ["ledger", "export", *config, "--from", "2026-03-01", "--out", str(out)]
    result = runner.invoke(app, [*args, "--camera", "cam01"])
    assert result.exit_code == 0, result.output
    reads = ctx.ledger.entries(events=[EventType.ledger_read])
    assert len(reads) == 1
    assert reads[0].actor == f"{getpass.getuser()} (cli)"
    assert reads[0].data["ledger"] == "management" and reads[0].data["rows"] == 1
    assert reads[0].data["filters"]["camera"] == "cam01" and reads[0].camera_id == "cam01"

    out.unlink()
    _break_ledger(ctx)
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "ledger" in refused.output
    assert not out.exists()


def test_user_list_is_ledgered_before_it_is_shown(ctx: AppContext, tmp_path: Path) -> None:
    config = _config(tmp_path)
    added = runner.invoke(app, ["user", "add", "nurse.kim", *config, "--role", "viewer",
                                "--name", "김간호"])  # fmt: skip
    assert added.exit_code == 0, added.output
    listing = runner.invoke(app, ["user", "list", *config])
    assert listing.exit_code == 0 and "nurse.kim" in listing.output
    reads = ctx.ledger.entries(events=[EventType.accounts_read])
    assert len(reads) == 1 and reads[0].actor == f"cli:{getpass.getuser()}"
    accounts = AccessService(ctx.db, ctx.clock, ctx.settings.server, ctx.ledger)
    assert reads[0].data["rows"] == len(accounts.list_users(Principal.local("test")))

    _break_ledger(ctx)
    refused = runner.invoke(app, ["user", "list", *config])
    assert refused.exit_code == 2 and "nurse.kim" not in refused.output


def test_hold_list_is_ledgered_before_it_is_shown(ctx: AppContext, tmp_path: Path) -> None:
    config = _config(tmp_path)
    with ctx.db.session() as session:
        place_hold(
            ctx,
            session,
            camera_ids=["cam01"],
            start_ms=0,
            end_ms=1000,
            reason="강남서 수사 협조",
            reference="case-7",
            placed_by="kim",
        )
    listing = runner.invoke(app, ["hold", "list", *config, "--all"])
    assert listing.exit_code == 0 and "강남서 수사 협조" in listing.output
    reads = ctx.ledger.entries(events=[EventType.holds_read])
    assert len(reads) == 1 and reads[0].actor == f"{getpass.getuser()} (cli)"
    assert reads[0].data == {"rows": 1, "include_released": True, "via": "cli"}

    _break_ledger(ctx)
    refused = runner.invoke(app, ["hold", "list", *config])
    assert refused.exit_code == 2 and "강남서" not in refused.output
