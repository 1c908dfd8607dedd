"""Core commands: init, check-config, run, version."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table
from sqlmodel import select

from appliance import __version__
from appliance.accounts import create_user, generate_password
from appliance.backup import schema_state, upgrade_database
from appliance.cameras import sync_cameras
from appliance.cli._common import ConfigOption, console, load, reported
from appliance.clock import Clock, SystemClock
from appliance.context import AppContext
from appliance.daemons import Supervisor, discover_daemons
from appliance.docs import config_reference, replace_reference
from appliance.errors import ValidationFailed
from appliance.keys import create_signing_key, ensure_private_dir
from appliance.models import Role, User
from appliance.retention.keys import raise_keys_in_clear_alarm
from appliance.settings import CONFIG_ENV, Settings
from appliance.vault import MIN_PASSPHRASE_CHARS, Vault

__all__ = ["INIT_REFUSAL", "InitResult", "initialize", "register"]


@dataclass(frozen=True)
class InitResult:
    """What ``init`` created this time (nothing on a second run)."""

    created_vault_key: str | None
    created_signing_key: bool
    admin_username: str | None
    admin_password: str | None  # shown once, never stored in clear


INIT_REFUSAL = (
    "a real installation needs a vault passphrase: without one the vault private keys sit in "
    "clear in the key dir and a stolen box reveals all footage. Give it with `appliance init` "
    "on a terminal (or `--stdin`); only a demo or a test may pass --insecure-no-passphrase"
)


def initialize(
    settings: Settings,
    clock: Clock | None = None,
    *,
    passphrase: str | None = None,
    insecure_no_passphrase: bool = False,
) -> InitResult:
    """Create dirs, keys, schema and the first admin; idempotent, never overwrites keys.

    Keys are created sealed under ``passphrase`` (never written in clear); creating them
    without one is refused unless ``insecure_no_passphrase`` (demo, tests), which raises the
    permanent ``keys_in_clear`` alarm. A second run creates nothing and needs neither.
    """
    clock = clock or SystemClock()
    key_dir = settings.storage.key_dir
    creates_keys = (
        not (key_dir / "vault" / "current").exists()
        or not (key_dir / "signing" / "ed25519.key").exists()
    )
    vault = Vault(key_dir, clock, settings.vault.kdf_strength)
    if (
        creates_keys
        and passphrase is None
        and not insecure_no_passphrase
        and not (key_dir.is_dir() and vault.has_passphrase)
    ):
        raise ValidationFailed(INIT_REFUSAL)
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise ValidationFailed(f"a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")
    for path in (settings.storage.data_dir, settings.segments_dir, settings.exports_dir):
        ensure_private_dir(path)
    for path in (key_dir, key_dir / "vault"):
        ensure_private_dir(path)
    ensure_private_dir(key_dir / "signing")
    if creates_keys and passphrase is not None and not vault.has_passphrase:
        vault.set_passphrase(passphrase)  # the keyring first: no private key is ever in clear
    vault_key = None
    if not (key_dir / "vault" / "current").exists():
        vault_key = vault.create_key()
    signing = False
    if not (key_dir / "signing" / "ed25519.key").exists():
        create_signing_key(key_dir, seal=vault.seal_to_keyring())
        signing = True
    ctx = AppContext.open(settings, clock)
    try:
        username = password = None
        with ctx.db.session() as session:
            sync_cameras(session, settings, clock)
            if not vault.has_passphrase:
                raise_keys_in_clear_alarm(session, clock.now_ms())
            has_admin = session.exec(select(User).where(User.role == Role.admin.value)).first()
            if has_admin is None:
                username, password = "admin", generate_password()
                create_user(
                    session,
                    clock,
                    username=username,
                    password=password,
                    role=Role.admin,
                    display_name="Administrator",
                    department=settings.site.officer.department,
                    must_change_password=True,
                )
    finally:
        ctx.close()
    return InitResult(vault_key, signing, username, password)


def register(app: typer.Typer) -> None:
    @app.command()
    def version(
        check: bool = typer.Option(
            False,
            "--check",
            help="Also tell whether the database schema matches this code (exit 1 if not).",
        ),
        config: ConfigOption = None,
    ) -> None:
        """Print the appliance version (and with --check the schema state)."""
        console.print(__version__)
        if check:
            settings = load(config)
            with reported():
                state = schema_state(settings.database_url)
            console.print(state.describe())
            if not state.matches:
                raise typer.Exit(1)

    @app.command("check-config")
    def check_config(config: ConfigOption = None) -> None:
        """Load the configuration and report whether it is valid (exit 2 if not)."""
        settings = load(config)
        table = Table(title=f"{settings.site.name}: {len(settings.cameras)} cameras")
        for column in ("group", "min days", "max days", "audio", "disclosure", "cameras"):
            table.add_column(column)
        for group in settings.groups:
            count = sum(1 for c in settings.cameras if c.group == group.name)
            table.add_row(
                group.name,
                str(group.min_days),
                str(group.max_days),
                "yes" if group.audio_allowed else "no",
                group.disclosure.value,
                str(count),
            )
        console.print(table)
        console.print("[green]configuration is valid[/]")

    @app.command("config-reference")
    def config_reference_cmd(
        write: Path | None = typer.Option(  # noqa: B008
            None, "--write", help="Replace the generated block in this Markdown file."
        ),
    ) -> None:
        """Print (or write into the README) the reference of every configuration key."""
        if write is None:
            console.print(config_reference(), markup=False, highlight=False, soft_wrap=True)
        else:
            changed = replace_reference(write)
            console.print(f"{write}: {'updated' if changed else 'already current'}")

    @app.command()
    def init(
        config: ConfigOption = None,
        stdin: bool = typer.Option(
            False, "--stdin", help="Read the vault passphrase from the first line of stdin."
        ),
        insecure_no_passphrase: bool = typer.Option(
            False,
            "--insecure-no-passphrase",
            help="Demo and tests only: keys in clear at rest (a permanent alarm says so).",
        ),
    ) -> None:
        """Create the data and key dirs, the keys (sealed under a vault passphrase), the database
        and the first admin."""
        settings = load(config)
        with reported():
            passphrase = None
            if not insecure_no_passphrase and not _initialised(settings):
                passphrase = _init_passphrase(stdin)
            result = initialize(
                settings, passphrase=passphrase, insecure_no_passphrase=insecure_no_passphrase
            )
        _print_init(settings, result)

    @app.command()
    def run(
        config: ConfigOption = None,
        only: list[str] = typer.Option(  # noqa: B008
            None, "--only", help="Run only these services (recorder, retention, web ...)."
        ),
    ) -> None:
        """Run the recorder, the purge scheduler and the web/API server until SIGTERM."""
        settings = load(config)
        if config is not None:  # the backup daemon archives the file this process was given
            os.environ[CONFIG_ENV] = str(config.resolve())
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        with reported():
            upgrade_database(settings, SystemClock())  # a copy first; rolled back on failure
            ctx = AppContext.open(settings)
            with ctx.db.session() as session:
                sync_cameras(session, settings, ctx.clock)
            factories = discover_daemons(set(only) if only else None)
            supervisor = Supervisor(ctx, factories)
            supervisor.install_signal_handlers()
            supervisor.start()
            console.print(f"running: {', '.join(factories) or 'no services installed'}")
            try:
                supervisor.run_forever()
            finally:
                ctx.close()


def _initialised(settings: Settings) -> bool:
    key_dir = settings.storage.key_dir
    return (key_dir / "vault" / "current").exists() and (
        key_dir / "signing" / "ed25519.key"
    ).exists()


def _init_passphrase(stdin: bool) -> str | None:
    """The new vault passphrase from stdin or a terminal prompt; None if there is no way to
    ask (``initialize`` then refuses with the reason)."""
    if stdin:
        return sys.stdin.readline().rstrip("\n") or None
    if not sys.stdin.isatty():
        return None
    value: str = typer.prompt("New vault passphrase", hide_input=True, confirmation_prompt=True)
    return value


def _print_init(settings: Settings, result: InitResult) -> None:
    console.print(f"data dir: {settings.storage.data_dir}")
    console.print(f"key dir:  {settings.storage.key_dir}")
    if result.created_vault_key:
        console.print(f"created vault key {result.created_vault_key}")
    if result.created_signing_key:
        console.print("created ledger signing key")
    if not Vault(settings.storage.key_dir, SystemClock()).has_passphrase:
        console.print(
            "[bold red]no vault passphrase[/]: the private keys are in clear in the key dir "
            "(a permanent alarm says so); set one with `appliance vault set-passphrase`"
        )
    if result.admin_password:
        console.print(
            f"[bold]first admin:[/] {result.admin_username} / [bold]{result.admin_password}[/]"
            "  (shown once; change it at first login)"
        )
    else:
        console.print("already initialised; nothing overwritten")
