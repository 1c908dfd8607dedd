"""``appliance requests deadlines`` and ``appliance requests notice`` on a real configuration."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from appliance.cli import app
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.requests import (
    Decision,
    DecisionInput,
    NewRequest,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestService,
)
from tests.support.config import base_config, to_toml
from tests.support.principals import OFFICER


def test_deadlines_and_notice_commands(ctx: AppContext, clock: FakeClock, tmp_path: Path) -> None:
    config = tmp_path / "appliance.toml"
    config.write_text(to_toml(base_config(tmp_path)), encoding="utf-8")
    service = RequestService(ctx)
    now = clock.now_ms()
    new = NewRequest(RequestKind.viewing, RequesterKind.subject, "홍길동", ("cam01",),
                     now - 3_600_000, now - 1_800_000)  # fmt: skip
    request = service.receive(OFFICER, new)
    assert request.id is not None
    runner = CliRunner()
    env = {"COLUMNS": "200"}
    # The command runs on the system clock, months after the fake clock's receipt: overdue.
    result = runner.invoke(app, ["requests", "deadlines", "--config", str(config)], env=env)
    assert result.exit_code == 1, result.output
    assert "overdue" in result.output and "홍길동" in result.output

    service.verify_identity(OFFICER, request.id, id_document="여권", checked_by="officer1")
    service.decide(
        OFFICER,
        request.id,
        DecisionInput(Decision.refused, ground=RefusalGround.investigation, reason="수사 중"),
    )
    out = tmp_path / "notice.html"
    result = runner.invoke(
        app, ["requests", "notice", str(request.id), "--config", str(config), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "열람 거절 통지서" in out.read_text(encoding="utf-8")
    missing = runner.invoke(app, ["requests", "notice", "999", "--config", str(config)])
    assert missing.exit_code == 2 and "no request 999" in missing.output
