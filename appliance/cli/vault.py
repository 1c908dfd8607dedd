"""Vault commands: ``vault status|set-passphrase|unlock|lock|rotate`` and ``unlock`` (at boot)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import col, select

from appliance.cli._common import ConfigOption, console, load, reported
from appliance.clock import from_ms
from appliance.context import AppContext
from appliance.errors import NotFound, ValidationFailed
from appliance.keys import load_verify_key
from appliance.ledger.heads import fingerprint_text
from appliance.models import Segment
from appliance.vault import sync_key_registry
from appliance.vault.control import control_request, socket_path

__all__ = ["cli_actor", "open_context", "register"]

StdinOption = Annotated[
    bool,
    typer.Option(
        "--stdin", help="Read the passphrase from the first line of stdin (boot scripts)."
    ),
]


def cli_actor() -> str:
    """Who runs this command, as recorded in the ledgers."""
    return f"{getpass.getuser()} (cli)"


@contextmanager
def open_context(config: Path | None) -> Iterator[AppContext]:
    """The configuration's context (migrated database), closed afterwards; errors reported."""
    settings = load(config)
    with reported():
        ctx = AppContext.open(settings)
        try:
            yield ctx
        finally:
            ctx.close()


def _read_passphrase(prompt: str, stdin: bool, *, confirm: bool = False) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return value


def _when(ms: int | None) -> str:
    return "" if ms is None else from_ms(ms).strftime("%Y-%m-%d %H:%M:%S UTC")


def unlock_command(config: Path | None, stdin: bool) -> None:
    settings = load(config)
    path = socket_path(settings)
    with reported():
        if not path.exists():
            raise NotFound(f"the appliance is not running (no control socket at {path})")
        passphrase = _read_passphrase("Vault passphrase", stdin)
        reply = control_request(
            path, {"op": "unlock", "passphrase": passphrase, "actor": getpass.getuser()}
        )
    console.print("[green]vault unlocked[/]" if reply["unlocked"] else "[red]vault still locked[/]")


def register(app: typer.Typer) -> None:
    vault = typer.Typer(help="The vault: keys, passphrase, unlock, rotation.", no_args_is_help=True)
    app.add_typer(vault, name="vault")

    @vault.command()
    def status(config: ConfigOption = None) -> None:
        """Show the vault keys, whether a passphrase is set, and the running appliance's lock."""
        with open_context(config) as ctx:
            with ctx.db.session() as session:
                rows = sync_key_registry(session, ctx.vault, ctx.clock.now_ms())
                sealed = col(Segment.sealed_key).is_not(None)
                in_use = set(
                    session.exec(select(Segment.vault_key_id).where(sealed).distinct()).all()
                )
            current = ctx.vault.current_key_id()
            table = Table(title="vault keys")
            for column in ("key id", "state", "created", "retired", "destroyed", "footage"):
                table.add_column(column)
            for row in rows:
                state = (
                    "current"
                    if row.key_id == current
                    else "destroyed"
                    if row.destroyed_ms
                    else "retired"
                )
                table.add_row(
                    row.key_id,
                    state,
                    _when(row.created_ms),
                    _when(row.retired_ms),
                    _when(row.destroyed_ms),
                    "yes" if row.key_id in in_use else "no",
                )
            console.print(table)
            console.print(f"passphrase: {'set' if ctx.vault.has_passphrase else 'not set'}")
            verify_key = load_verify_key(ctx.settings.storage.key_dir)
            fingerprint = fingerprint_text(verify_key)
            console.print(f"ledger signing key fingerprint: {fingerprint}", soft_wrap=True)
            try:
                reply = control_request(socket_path(ctx.settings), {"op": "status"}, 10)
                lock = "unlocked" if reply["unlocked"] else "LOCKED (viewing refused)"
                console.print(f"running appliance (pid {reply['pid']}): {lock}")
            except NotFound:
                console.print("running appliance: not running")

    @vault.command("set-passphrase")
    def set_passphrase(config: ConfigOption = None, stdin: StdinOption = False) -> None:
        """Seal the private keys with a passphrase (or change it). Stdin: current, then new."""
        with open_context(config) as ctx:
            current = None
            if ctx.vault.has_passphrase:
                current = _read_passphrase("Current passphrase", stdin)
            new = _read_passphrase("New passphrase", stdin, confirm=True)
            if stdin and not new:
                raise ValidationFailed("no new passphrase on stdin")
            ctx.vault.set_passphrase(new, current=current)
        console.print(
            "[green]passphrase set[/]: the vault starts locked; "
            "unlock it after each start with `appliance unlock`"
        )

    @vault.command("unlock")
    def unlock(config: ConfigOption = None, stdin: StdinOption = False) -> None:
        """Send the passphrase to the running appliance so viewing works (recording never
        needs it)."""
        unlock_command(config, stdin)

    @vault.command("lock")
    def lock(config: ConfigOption = None) -> None:
        """Make the running appliance forget the private keys (viewing stops)."""
        settings = load(config)
        with reported():
            control_request(socket_path(settings), {"op": "lock", "actor": getpass.getuser()})
        console.print("vault locked")

    @vault.command("rotate")
    def rotate(config: ConfigOption = None) -> None:
        """Make a new vault key current; the old private key is destroyed by the purge cycle
        once no footage sealed to it remains."""
        with open_context(config) as ctx:
            old = ctx.vault.current_key_id()
            new = ctx.vault_keeper.rotate(actor=cli_actor())
        console.print(f"new segments are sealed to {new}; {old} is retired")

    @app.command("unlock")
    def unlock_top(config: ConfigOption = None, stdin: StdinOption = False) -> None:
        """Unlock the running appliance's vault (same as `vault unlock`)."""
        unlock_command(config, stdin)
