"""Backup commands: ``backup``, ``backup-passphrase``, ``backup-verify``, ``restore``,
``upgrade`` (design/backup.md). ``version --check`` is in ``main``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from appliance.backup import (
    check_archive,
    restore_backup,
    set_backup_passphrase,
    take_backup,
    upgrade_database,
)
from appliance.backup.control import backup_socket_path
from appliance.cli._common import ConfigOption, console, load, reported
from appliance.cli.vault import cli_actor
from appliance.clock import SystemClock, from_ms
from appliance.context import AppContext
from appliance.errors import ValidationFailed
from appliance.settings import CONFIG_ENV
from appliance.vault import Vault
from appliance.vault.control import control_request

__all__ = ["register"]

FingerprintOption = Annotated[
    str | None,
    typer.Option(
        "--key-fingerprint",
        help="The signing key's fingerprint as written down at installation (`ledger head`, "
        "`vault status`); the archive must be signed by it.",
    ),
]


def _secret(prompt: str, stdin: bool, *, confirm: bool = False) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        return ""
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return value


def _when(ms: int) -> str:
    return from_ms(ms).strftime("%Y-%m-%d %H:%M:%S UTC")


def register(app: typer.Typer) -> None:
    @app.command("backup-passphrase")
    def backup_passphrase(
        config: ConfigOption = None,
        stdin: bool = typer.Option(False, "--stdin", help="Read it from the first stdin line."),
    ) -> None:
        """Set (or change) the backup passphrase; backups then need no secret on the box."""
        settings = load(config)
        with reported():
            passphrase = _secret("New backup passphrase", stdin, confirm=True)
            set_backup_passphrase(
                settings.storage.key_dir,
                passphrase,
                settings.vault.kdf_strength,
                SystemClock().now_ms(),
            )
        console.print(
            "backup passphrase set: keep it apart from the vault passphrase and off the box"
        )

    @app.command()
    def backup(
        config: ConfigOption = None,
        out: Path | None = typer.Option(  # noqa: B008
            None, "--out", help="Directory for the archive (default: backup.dir)."
        ),
        keep: int | None = typer.Option(
            None, "--keep", help="Archives to keep there (default: backup.keep with backup.dir)."
        ),
        stdin: bool = typer.Option(
            False, "--stdin", help="Read the vault passphrase (for the signing key) from stdin."
        ),
    ) -> None:
        """Write an encrypted, signed backup archive (database, key dir, config, ledger head).

        With a vault passphrase set and no --stdin, the running appliance (which holds the
        signing key since its unlock) writes it, asked over <data_dir>/backup.sock."""
        settings = load(config)
        with reported():
            directory = out or settings.backup.dir
            if directory is None:
                raise ValidationFailed("no backup directory: pass --out or set backup.dir")
            sock = backup_socket_path(settings.storage.data_dir)
            if (
                not stdin
                and sock.exists()
                and Vault(settings.storage.key_dir, SystemClock()).has_passphrase
            ):
                payload = {
                    "op": "backup",
                    "out": str(out) if out else None,
                    "keep": keep,
                    "config": str(config.resolve()) if config else os.environ.get(CONFIG_ENV),
                    "actor": cli_actor(),
                }
                reply = control_request(sock, payload, timeout_s=900)
                console.print(
                    f"the running appliance wrote {reply['path']} "
                    f"({reply['size_bytes']} bytes, blake2b {reply['digest']})"
                )
                for path in reply["pruned"]:
                    console.print(f"deleted old archive {Path(path).name}")
                return
            if keep is None and out is None:
                keep = settings.backup.keep
            ctx = AppContext.open(settings)
            try:
                if ctx.vault.has_passphrase:
                    passphrase = _secret("Vault passphrase (signs the archive)", stdin)
                    if not passphrase:
                        raise ValidationFailed(
                            "the archive is signed with the signing key, which the vault "
                            "passphrase opens: give it (--stdin), or run this while `appliance "
                            "run` runs (it writes the archive)"
                        )
                    ctx.vault_keeper.unlock(passphrase, cli_actor())
                result = take_backup(ctx, directory, keep=keep, config_path=config)
            finally:
                ctx.close()
        console.print(f"wrote {result.path} ({result.size_bytes} bytes, blake2b {result.digest})")
        console.print(f"ledger head seq {result.head_seq}, schema {result.schema}")
        for path in result.pruned:
            console.print(f"deleted old archive {path.name}")

    @app.command("backup-verify")
    def backup_verify(
        archive: Path = typer.Argument(..., exists=True, dir_okay=False),  # noqa: B008
        key_fingerprint: FingerprintOption = None,
    ) -> None:
        """Check an archive's signature (no passphrase needed) and print what it holds."""
        with reported(1):
            header, signer = check_archive(archive, key_fingerprint)
        head = header["head"]
        assert isinstance(head, dict)
        console.print(f"[green]signature OK[/], signed by {signer}")
        console.print(
            f"taken {_when(int(str(header['created_ms'])))}, site {header.get('site')}, "
            f"{header['database']} schema {header['schema']}, ledger head seq {head['seq']}"
        )
        if not key_fingerprint:
            console.print("compare the signer with the fingerprint written down at installation")

    @app.command()
    def restore(
        archive: Path = typer.Argument(..., exists=True, dir_okay=False),  # noqa: B008
        config: Path = typer.Option(  # noqa: B008
            ...,
            "--config",
            "-c",
            help="Configuration file; written from the archive if it does not exist yet.",
        ),
        stdin: bool = typer.Option(
            False,
            "--stdin",
            help="Read the backup passphrase from the first stdin line and the vault "
            "passphrase from the second (empty: leave the vault locked).",
        ),
        key_fingerprint: FingerprintOption = None,
    ) -> None:
        """Restore a backup onto a fresh box; destroyed footage keys stay destroyed."""
        with reported():
            passphrase = _secret("Backup passphrase", stdin)
            vault_passphrase = _secret("Vault passphrase (empty: stay locked)", stdin) or None
            report = restore_backup(
                archive,
                config,
                passphrase,
                pinned_fingerprint=key_fingerprint,
                vault_passphrase=vault_passphrase,
                actor=cli_actor(),
            )
        replay = report.replay
        console.print(f"restored {archive.name}, taken {_when(report.taken_ms)}")
        console.print(f"signed by {report.signer_fingerprint}")
        console.print(f"schema {report.schema_in_archive} -> {report.schema_now}")
        console.print(
            f"destroyed again: {replay.expired_segments} expired segments, "
            f"{replay.missing_segments} deleted since the backup, {replay.derived_destroyed} "
            f"copies; {replay.unreadable_files} files recorded after the backup removed "
            "(their keys were never backed up); vault keys destroyed: "
            f"{', '.join(replay.keys_destroyed) or 'none'}; new vault key {replay.rotated_to}"
        )
        if report.later_heads:
            console.print(
                f"[yellow]the heads file holds {report.later_heads} heads signed after the "
                "backup: the entries they cover are lost[/]"
            )
        console.print("footage that can be opened:" if report.openable else "no footage to open")
        for item in report.openable:
            console.print(
                f"  {item.camera_id}: {_when(item.start_ms)} - {_when(item.end_ms)} "
                f"({item.segments} segments)"
            )
        if not report.head_signed:
            console.print(
                "the vault is locked: start `appliance run` and `appliance unlock`, then "
                "`appliance ledger verify`"
            )

    @app.command()
    def upgrade(config: ConfigOption = None) -> None:
        """Migrate the database to this code's schema (a copy is taken first and put back if a
        migration fails)."""
        settings = load(config)
        with reported():
            state = upgrade_database(settings, SystemClock(), actor=cli_actor())
        console.print(state.describe())
