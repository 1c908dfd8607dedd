"""``appliance init``: dirs with tight permissions, keys never overwritten, one first admin."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from appliance.accounts import verify_password
from appliance.alarms import AlarmKind, open_alarms
from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import ValidationFailed
from appliance.keys import read_signing_key_file
from appliance.models import Camera, Role, User
from appliance.retention.daemon import RetentionDaemon
from appliance.settings import Settings
from tests.support.config import base_config, write_toml


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


PASS = "correct horse battery staple"


def test_init_creates_private_dirs_and_keys(settings: Settings, clock: FakeClock) -> None:
    result = initialize(settings, clock, passphrase=PASS)
    key_dir = settings.storage.key_dir
    for directory in (
        settings.storage.data_dir,
        settings.segments_dir,
        key_dir,
        key_dir / "vault",
        key_dir / "signing",
    ):
        assert _mode(directory) == 0o700, directory
    assert result.created_vault_key is not None
    private = key_dir / "vault" / f"{result.created_vault_key}.key"
    assert _mode(private) == 0o600
    assert _mode(key_dir / "signing" / "ed25519.key") == 0o600
    assert not key_dir.resolve().is_relative_to(settings.storage.data_dir.resolve())
    assert result.admin_password and len(result.admin_password) >= 12
    # Sealed from the start: no private key was ever written in clear.
    assert json.loads(private.read_text())["kdf"] == "keyring"
    assert read_signing_key_file(key_dir)["kdf"] == "keyring"
    assert (key_dir / "vault" / "keyring.json").exists()
    ctx = AppContext.open(settings, clock)
    try:
        with ctx.db.session() as session:
            assert [a.kind for a in open_alarms(session)] == []
    finally:
        ctx.close()


def test_init_without_a_passphrase_refuses(settings: Settings, clock: FakeClock) -> None:
    with pytest.raises(ValidationFailed, match="needs a vault passphrase"):
        initialize(settings, clock)
    assert not settings.storage.key_dir.exists() or not any(settings.storage.key_dir.rglob("*"))
    with pytest.raises(ValidationFailed, match="at least 10 characters"):
        initialize(settings, clock, passphrase="short")


def test_insecure_init_raises_a_permanent_alarm(settings: Settings, clock: FakeClock) -> None:
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    try:
        with ctx.db.session() as session:
            (alarm,) = open_alarms(session)
        assert alarm.kind == AlarmKind.keys_in_clear.value
        assert "set-passphrase" in alarm.message
        daemon = RetentionDaemon(ctx, control=False)
        daemon.run_once()
        clock.advance(86_400)
        daemon.run_once()
        with ctx.db.session() as session:
            assert [a.kind for a in open_alarms(session)] == [AlarmKind.keys_in_clear.value]
        ctx.vault.set_passphrase(PASS)
        daemon.run_once()  # it holds no more: cleared
        with ctx.db.session() as session:
            assert open_alarms(session) == []
    finally:
        ctx.close()


def test_init_is_idempotent_and_never_overwrites_keys(settings: Settings, clock: FakeClock) -> None:
    first = initialize(settings, clock, insecure_no_passphrase=True)
    key_dir = settings.storage.key_dir
    before = {p: p.read_bytes() for p in key_dir.rglob("*") if p.is_file()}
    second = initialize(settings, clock)  # creates nothing, so needs no passphrase
    after = {p: p.read_bytes() for p in key_dir.rglob("*") if p.is_file()}
    assert before == after
    assert second.created_vault_key is None and not second.created_signing_key
    assert second.admin_password is None  # the first admin's password is shown once only
    ctx = AppContext.open(settings, clock)
    with ctx.db.session() as session:
        admins = session.exec(select(User).where(User.role == Role.admin.value)).all()
        assert len(admins) == 1
        assert first.admin_password is not None
        assert verify_password(admins[0].password_hash, first.admin_password)
        assert admins[0].password_hash.startswith("$argon2id$")
        assert admins[0].must_change_password
        cameras = session.exec(select(Camera)).all()
        assert sorted(c.id for c in cameras) == ["cam01", "cam02", "cam03"]
    ctx.close()


def test_cli_check_config_and_init(tmp_path: Path) -> None:
    config = write_toml(tmp_path, base_config(tmp_path))
    exe = [sys.executable, "-m", "appliance"]
    ok = subprocess.run(
        [*exe, "check-config", "-c", str(config)], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "configuration is valid" in ok.stdout
    refused_init = subprocess.run(
        [*exe, "init", "-c", str(config)], capture_output=True, text=True, check=False
    )
    assert refused_init.returncode == 2
    assert "needs a vault passphrase" in refused_init.stderr
    assert "Traceback" not in refused_init.stderr
    first = subprocess.run(
        [*exe, "init", "-c", str(config), "--stdin"],
        input=PASS + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    assert "no vault passphrase" not in first.stdout
    assert "first admin: admin /" in first.stdout
    second = subprocess.run(
        [*exe, "init", "-c", str(config)], capture_output=True, text=True, check=False
    )
    assert second.returncode == 0 and "nothing overwritten" in second.stdout

    data = base_config(tmp_path)
    data["cameras"][0]["location_type"] = "toilet"
    (tmp_path / "bad").mkdir()
    bad = write_toml(tmp_path / "bad", data)
    refused = subprocess.run(
        [*exe, "check-config", "-c", str(bad)], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 2
    assert "cameras[0].location_type" in refused.stderr
    assert "Traceback" not in refused.stderr
