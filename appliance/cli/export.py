"""Export and request commands: ``verify-export`` (anyone holding a package),
``unpack-export`` (the recipient, on their own machine: it writes the plaintext MP4s), and
``requests deadlines`` / ``requests notice`` / ``requests handover-record`` for the officer at
the console."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from appliance.cli._common import ConfigOption, console, err_console, load, reported
from appliance.errors import ValidationFailed
from appliance.export.package import (
    SHA256SUMS,
    fingerprint,
    flatten_sha256sums,
    open_package,
    verify_package,
)
from appliance.keys import load_verify_key
from appliance.settings import CONFIG_ENV

__all__ = ["register"]

PassphraseOption = Annotated[
    str | None,
    typer.Option(
        "--passphrase",
        "-p",
        envvar="APPLIANCE_EXPORT_PASSPHRASE",
        help="Transport passphrase: also decrypt and check the manifest and every video hash.",
        show_default=False,
    ),
]
VerifyKeyOption = Annotated[
    str | None,
    typer.Option(
        "--verify-key",
        help="Expected signer (hex ed25519 verify key). Default: the appliance's, when a "
        "configuration is given; else the key the package names (compare its fingerprint).",
        show_default=False,
    ),
]


def _read(package: Path) -> bytes:
    try:
        return package.read_bytes()
    except OSError as exc:
        err_console.print(f"[bold red]error:[/] {package}: {exc.strerror}", highlight=False)
        raise typer.Exit(2) from exc


def _pinned_key(verify_key: str | None, config: Path | None) -> bytes | None:
    if verify_key:
        try:
            key = bytes.fromhex(verify_key)
        except ValueError:
            key = b""
        if len(key) != 32:
            with reported():
                raise ValidationFailed("--verify-key must be 64 hex digits")
        return key
    if config is None and not os.environ.get(CONFIG_ENV):
        return None
    settings = load(config)
    with reported():
        return load_verify_key(settings.storage.key_dir)


def _requests_app() -> typer.Typer:
    requests_app = typer.Typer(
        help="Requests: deadlines, notices and hand-over records.", no_args_is_help=True
    )

    @requests_app.command("deadlines")
    def deadlines(config: ConfigOption = None) -> None:
        """List open requests by deadline; raise their alarms; exit 1 if any is overdue."""
        # Imported here: the request service pulls in PyAV and OpenCV, which other commands
        # do not need at start.
        from appliance.context import AppContext
        from appliance.requests.notices import format_when
        from appliance.requests.service import RequestService

        settings = load(config)
        with reported():
            ctx = AppContext.open(settings)
            try:
                report = RequestService(ctx).check_deadlines()
            finally:
                ctx.close()
        table = Table(title=f"{len(report.entries)} open request(s)")
        for column in ("id", "kind", "requester", "state", "status", "deadline"):
            table.add_column(column)
        for entry in report.entries:
            request = entry.request
            deadline = format_when(entry.deadline_ms, settings.zone) if entry.deadline_ms else "-"
            table.add_row(
                str(request.id),
                request.kind,
                request.requester_name,
                request.state,
                entry.status.value,
                deadline,
            )
        console.print(table)
        if report.overdue:
            err_console.print(f"[bold red]{len(report.overdue)} overdue[/]", highlight=False)
            raise typer.Exit(1)

    @requests_app.command("notice")
    def notice(
        request_id: Annotated[int, typer.Argument(help="Request id.")],
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="Write the HTML here.")
        ] = None,
        config: ConfigOption = None,
    ) -> None:
        """Print the last notice sent for a request (or the draft of its decision) as HTML."""
        from appliance.access import Principal, Via
        from appliance.context import AppContext
        from appliance.models import Role
        from appliance.requests.service import RequestService

        # The operator at the box reads notices as the video protection officer would.
        officer = Principal(user_id=0, username=getpass.getuser(), role=Role.officer, via=Via.local)
        settings = load(config)
        with reported():
            ctx = AppContext.open(settings)
            try:
                service = RequestService(ctx)
                sent = service.notices(officer, request_id)
                body = sent[-1].body_html if sent else service.preview_notice(officer, request_id)
            finally:
                ctx.close()
        if out is None:
            typer.echo(body)
        else:
            out.write_text(body, encoding="utf-8")
            console.print(f"wrote {out}")

    @requests_app.command("handover-record")
    def handover_record(
        request_id: Annotated[int, typer.Argument(help="Request id.")],
        export: Annotated[
            str | None,
            typer.Option("--export", help="Export (package) id; default: the copy handed over."),
        ] = None,
        lang: Annotated[str, typer.Option("--lang", help="ko or en.")] = "ko",
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="Write the text here.")
        ] = None,
        config: ConfigOption = None,
    ) -> None:
        """Print the hand-over record of a copy (files, SHA-256, scope, masking) to sign.

        The package is verified first, opened with the vault (its passphrase is asked for
        when the vault has one); the reading is recorded in the ledger."""
        from appliance.access import Principal, Via
        from appliance.context import AppContext
        from appliance.models import Role
        from appliance.requests.handover_text import record_text
        from appliance.requests.service import RequestService

        if lang not in ("ko", "en"):
            with reported():
                raise ValidationFailed("--lang is ko or en")
        officer = Principal(user_id=0, username=getpass.getuser(), role=Role.officer, via=Via.local)
        settings = load(config)
        with reported():
            ctx = AppContext.open(settings)
            try:
                if not ctx.vault.is_unlocked:
                    # This process opens the package itself: unlock here (ledgered).
                    secret: str = typer.prompt("Vault passphrase", hide_input=True, err=True)
                    ctx.vault_keeper.unlock(secret, officer.actor)
                record = RequestService(ctx).handover_record(officer, request_id, export, via="cli")
            finally:
                ctx.close()
        text = record_text(record, lang, settings.zone)
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            console.print(f"wrote {out}")

    return requests_app


def register(app: typer.Typer) -> None:
    app.add_typer(_requests_app(), name="requests")

    @app.command("verify-export")
    def verify_export(
        package: Annotated[Path, typer.Argument(help="The .cctvexp package file.")],
        passphrase: PassphraseOption = None,
        verify_key: VerifyKeyOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Check an export package's signatures and hashes; exit 1 naming what failed."""
        data = _read(package)
        pinned = _pinned_key(verify_key, config)
        report = verify_package(data, passphrase=passphrase, verify_key=pinned)
        table = Table(title=str(package))
        table.add_column("check")
        table.add_column("result")
        table.add_column("detail")
        for check in report.checks:
            mark = "[green]ok[/]" if check.ok else "[bold red]FAILED[/]"
            table.add_row(check.name, mark, check.detail)
        console.print(table)
        console.print(f"package SHA-256 {report.sha256}  (sha256sum {package.name})")
        if report.header is not None and pinned is None:
            console.print(
                "signer key not pinned: compare the fingerprint "
                f"[bold]{fingerprint(report.header.signer_public_key)}[/] with the one on the "
                "hand-over notice"
            )
        if not report.ok:
            names = ", ".join(c.name for c in report.failed)
            err_console.print(f"[bold red]verification failed:[/] {names}", highlight=False)
            raise typer.Exit(1)
        if not report.contents_checked:
            console.print("contents not checked (give --passphrase to check the videos)")
        console.print("[green]package verified[/]")

    @app.command("unpack-export")
    def unpack_export(
        package: Annotated[Path, typer.Argument(help="The .cctvexp package file.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="New directory to write into.")],
        passphrase: Annotated[
            str,
            typer.Option(
                "--passphrase",
                "-p",
                envvar="APPLIANCE_EXPORT_PASSPHRASE",
                prompt=True,
                hide_input=True,
                help="Transport passphrase.",
            ),
        ],
        verify_key: VerifyKeyOption = None,
    ) -> None:
        """Verify, then write the manifest and the masked videos in clear (recipient side)."""
        data = _read(package)
        pinned = _pinned_key(verify_key, None)
        with reported(1):
            if pinned is not None:
                report = verify_package(data, verify_key=pinned)
                if not report.ok:
                    raise ValidationFailed("signer key does not match --verify-key")
            contents = open_package(data, passphrase)
        with reported():
            try:
                out.mkdir(parents=True, exist_ok=False)
            except FileExistsError as exc:
                raise ValidationFailed(f"{out} exists; give a new directory") from exc
        (out / "manifest.json").write_bytes(contents.manifest_bytes)
        for name, body in contents.files.items():
            target = out / Path(name).name
            target.write_bytes(body)
            console.print(f"wrote {target} ({len(body):,} bytes)")
        for name, body in contents.extras.items():
            if name == SHA256SUMS:
                # The videos are written without their video/ folder: name them as written.
                body = flatten_sha256sums(body)
            (out / name).write_bytes(body)
        if SHA256SUMS in contents.extras:
            console.print(f"check with: cd {out} && sha256sum -c {SHA256SUMS}")
        console.print(
            f"[green]verified and unpacked[/] package {contents.header.package_id}, signer "
            f"{fingerprint(contents.header.signer_public_key)}"
        )
