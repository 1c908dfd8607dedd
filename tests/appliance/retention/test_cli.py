"""The retention and vault commands, end to end through the CLI."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from appliance.cli import app
from appliance.clock import FakeClock
from appliance.context import AppContext
from tests.support.config import write_config
from tests.support.segments import MINUTE_MS, make_segments

runner = CliRunner()


def _run(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--config", str(config)], input=stdin)
    return result.exit_code, result.output


def test_hold_destruction_fsck_and_vault_commands(
    ctx: AppContext, clock: FakeClock, tmp_path: Path
) -> None:
    config = write_config(ctx.settings, tmp_path)
    # The CLI runs on the real clock: footage from 2020 is long due there.
    t0 = 1_577_836_800_000  # 2020-01-01 00:00 UTC
    made = make_segments(ctx, "cam01", [t0 + i * MINUTE_MS for i in range(3)])

    code, out = _run(
        config,
        "hold",
        "place",
        "--camera",
        "cam01",
        "--from",
        "2020-01-01T09:00:00",  # site time (Asia/Seoul) = t0
        "--to",
        "2020-01-01T09:00:30",
        "--reason",
        "경찰 수사",
        "--reference",
        "POL-77",
        "--by",
        "officer",
    )
    assert code == 0, out
    code, out = _run(config, "hold", "list")
    assert code == 0 and "POL-77" in out and "cam01" in out
    code, out = _run(
        config,
        "hold",
        "place",
        "--camera",
        "nope",
        "--from",
        "2026-03-01T09:00",
        "--to",
        "2026-03-01T10:00",
        "--reason",
        "x",
    )
    assert code == 2 and "unknown camera" in out

    code, out = _run(config, "retention", "cycle")  # the real clock: the footage is due
    assert code == 0, out
    assert "expired: 2 segments" in out  # the held one stays

    code, out = _run(config, "destruction", "export", "--format", "csv")
    assert code == 0 and "파기 일시" in out and "로비 (cam01)" in out
    page = tmp_path / "destruction.html"
    code, out = _run(config, "destruction", "export", "--format", "html", "--out", str(page))
    assert code == 0 and "<th>파기 사유</th>" in page.read_text(encoding="utf-8")

    (ctx.settings.segments_dir / made[0].path).write_bytes(b"tampered")
    code, out = _run(config, "fsck")
    assert code == 1 and "size_mismatch" in out

    code, out = _run(config, "vault", "set-passphrase", "--stdin", stdin="a long passphrase\n")
    assert code == 0, out
    code, out = _run(config, "vault", "rotate")
    assert code == 0 and "retired" in out
    code, out = _run(config, "vault", "status")
    assert code == 0 and "passphrase: set" in out and "not running" in out
    code, out = _run(config, "unlock", stdin="a long passphrase\n")
    assert code == 2 and "not running" in out
    code, out = _run(config, "alarms")
    assert code == 0 and "integrity" in out
