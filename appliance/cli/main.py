"""Core commands: init, check-config, run, version."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table
from sqlmodel import select

from appliance import __version__
from appliance.accounts import create_user, generate_password
from appliance.cameras import sync_cameras
from appliance.cli._common import ConfigOption, console, load, reported
from appliance.clock import Clock, SystemClock
from appliance.context import AppContext
from appliance.daemons import Supervisor, discover_daemons
from appliance.docs import config_reference, replace_reference
from appliance.keys import (
    create_signing_key,
    create_vault_key,
    ensure_private_dir,
)
from appliance.models import Role, User
from appliance.settings import Settings

__all__ = ["InitResult", "initialize", "register"]


@dataclass(frozen=True)
class InitResult:
    """What ``init`` created this time (nothing on a second run)."""

    created_vault_key: str | None
    created_signing_key: bool
    admin_username: str | None
    admin_password: str | None  # shown once, never stored in clear


def initialize(settings: Settings, clock: Clock | None = None) -> InitResult:
    """Create dirs, keys, schema and the first admin; idempotent, never overwrites keys."""
    clock = clock or SystemClock()
    for path in (settings.storage.data_dir, settings.segments_dir, settings.exports_dir):
        ensure_private_dir(path)
    key_dir = ensure_private_dir(settings.storage.key_dir)
    vault_key = None
    if not (key_dir / "vault" / "current").exists():
        vault_key = create_vault_key(key_dir, clock)
    signing = False
    if not (key_dir / "signing" / "ed25519.key").exists():
        create_signing_key(key_dir)
        signing = True
    ctx = AppContext.open(settings, clock)
    try:
        username = password = None
        with ctx.db.session() as session:
            sync_cameras(session, settings, clock)
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
    def version() -> None:
        """Print the appliance version."""
        console.print(__version__)

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
    def init(config: ConfigOption = None) -> None:
        """Create the data and key dirs, the keys, the database and the first admin."""
        settings = load(config)
        with reported():
            result = initialize(settings)
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
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        with reported():
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


def _print_init(settings: Settings, result: InitResult) -> None:
    console.print(f"data dir: {settings.storage.data_dir}")
    console.print(f"key dir:  {settings.storage.key_dir}")
    if result.created_vault_key:
        console.print(f"created vault key {result.created_vault_key}")
    if result.created_signing_key:
        console.print("created ledger signing key")
    if result.admin_password:
        console.print(
            f"[bold]first admin:[/] {result.admin_username} / [bold]{result.admin_password}[/]"
            "  (shown once; change it at first login)"
        )
    else:
        console.print("already initialised; nothing overwritten")
