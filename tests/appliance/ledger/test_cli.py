"""``appliance ledger ...`` end to end on a configured appliance."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from appliance.cli import app
from appliance.context import AppContext
from appliance.ledger import EventType
from tests.support.config import base_config, write_toml


def _config(tmp_path: Path) -> list[str]:
    return ["--config", str(write_toml(tmp_path, base_config(tmp_path)))]


def test_head_verify_export_cut(ctx: AppContext, tmp_path: Path) -> None:
    config = _config(tmp_path)
    runner = CliRunner()
    ctx.ledger.append(
        EventType.provision,
        actor="kim",
        camera_id="cam01",
        data={"recipient": "강남경찰서", "purpose": "수사", "masking": True},
    )
    ctx.ledger.append(EventType.purge, actor="retention", camera_id="cam02", data={"segments": 3})

    head_file = tmp_path / "witness" / "head.json"
    signed = runner.invoke(app, ["ledger", "head", *config, "--out", str(head_file)])
    assert signed.exit_code == 0, signed.output
    assert "seq   2" in signed.output and head_file.exists()

    hash_line = next(line for line in signed.output.splitlines() if line.startswith("hash"))
    paper = "2:" + hash_line.removeprefix("hash").replace(" ", "")
    ok = runner.invoke(
        app, ["ledger", "verify", *config, "--head", str(head_file), "--paper", paper]
    )
    assert ok.exit_code == 0, ok.output
    assert "ledger verified" in ok.output and "3 signed heads match" in ok.output
    wrong = runner.invoke(app, ["ledger", "verify", *config, "--paper", "2:" + "0" * 32])
    assert wrong.exit_code == 1 and "paper record" in wrong.output

    out = tmp_path / "관리대장.csv"
    exported = runner.invoke(
        app, ["ledger", "export", *config, "--from", "2026-03-01", "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][1] == "구분" and [r[1] for r in table[1:]] == ["제공", "파기"]

    page = tmp_path / "ledger.html"
    printed = runner.invoke(
        app,
        [
            "ledger",
            "export",
            *config,
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--type",
            "destruction",
            "--format",
            "html",
            "--out",
            str(page),
        ],
    )
    assert printed.exit_code == 0, printed.output
    html = page.read_text(encoding="utf-8")
    assert "개인영상정보 관리대장" in html and "파기" in html and "강남경찰서" not in html

    assert "nothing to cut" in runner.invoke(app, ["ledger", "cut", *config]).output

    db = sqlite3.connect(ctx.settings.storage.data_dir / "appliance.db")
    db.execute("UPDATE ledger_entry SET actor = 'someone' WHERE seq = 1")
    db.commit()
    db.close()
    bad = runner.invoke(app, ["ledger", "verify", *config])
    assert bad.exit_code == 1
    assert "first bad entry 1" in bad.output


def test_bad_input_is_one_line_and_exit_2(ctx: AppContext, tmp_path: Path) -> None:
    config = _config(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        app, ["ledger", "export", *config, "--from", "March", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "not a date" in result.output
    assert "Traceback" not in result.output
    (tmp_path / "junk.json").write_text("{}")
    result = runner.invoke(
        app, ["ledger", "verify", *config, "--head", str(tmp_path / "junk.json")]
    )
    assert result.exit_code == 2 and "not a ledger head" in result.output


def test_verify_pins_the_key_and_checks_continuity(ctx: AppContext, tmp_path: Path) -> None:
    config = _config(tmp_path)
    runner = CliRunner()
    signed = runner.invoke(app, ["ledger", "head", *config])
    assert signed.exit_code == 0, signed.output
    line = next(s for s in signed.output.splitlines() if s.startswith("key fingerprint"))
    fingerprint = line.rsplit(":", 1)[1].strip()
    assert len(fingerprint.replace(" ", "")) == 64
    assert fingerprint in runner.invoke(app, ["vault", "status", *config]).output

    pinned = runner.invoke(app, ["ledger", "verify", *config, "--key-fingerprint", fingerprint])
    assert pinned.exit_code == 0, pinned.output
    wrong = runner.invoke(app, ["ledger", "verify", *config, "--key-fingerprint", "ab" * 32])
    assert wrong.exit_code == 1 and "[key]" in wrong.output and "pinned" in wrong.output
    short = runner.invoke(app, ["ledger", "verify", *config, "--key-fingerprint", "abcd"])
    assert short.exit_code == 2 and "at least 32 hex digits" in short.output

    heads_file = ctx.settings.storage.key_dir / "heads.log"
    assert heads_file.read_text().count("\n") == 1  # the CLI's head went to the heads file
    ok = runner.invoke(app, ["ledger", "verify", *config, "--heads-file", str(heads_file)])
    assert ok.exit_code == 0, ok.output
    db = sqlite3.connect(ctx.settings.storage.data_dir / "appliance.db")
    db.execute("DELETE FROM ledger_signed_head")
    db.commit()
    db.close()
    gone = runner.invoke(app, ["ledger", "verify", *config, "--heads-file", str(heads_file)])
    assert gone.exit_code == 1 and "[heads_file]" in gone.output

    # Once the appliance has run, heads are expected every interval up to now: the CLI runs
    # on the real clock, long after the test clock's head.
    ctx.ledger.append(EventType.system_start, actor="system")
    ctx.ledger.sign_head()
    stale = runner.invoke(app, ["ledger", "verify", *config])
    assert stale.exit_code == 1 and "[continuity]" in stale.output, stale.output
    offline = runner.invoke(app, ["ledger", "verify", *config, "--no-continuity"])
    assert offline.exit_code == 0, offline.output
