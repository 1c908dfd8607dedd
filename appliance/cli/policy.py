"""Policy commands: ``policy render|publish|history|check`` (issue 17; design/policy.md)."""

from __future__ import annotations

import getpass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from appliance.access import Principal
from appliance.cli._common import ConfigOption, console, err_console, reported
from appliance.cli.vault import open_context
from appliance.errors import ValidationFailed
from appliance.policy import PolicyService, What

__all__ = ["register"]


class Lang(StrEnum):
    ko = "ko"
    en = "en"


class Format(StrEnum):
    md = "md"
    html = "html"


def register(app: typer.Typer) -> None:
    policy = typer.Typer(
        help="The operating policy, signs and access annex, from the live system.",
        no_args_is_help=True,
    )
    app.add_typer(policy, name="policy")

    @policy.command("render")
    def render(
        config: ConfigOption = None,
        lang: Annotated[Lang, typer.Option("--lang", help="ko or en.")] = Lang.ko,
        fmt: Annotated[Format, typer.Option("--format", help="md or html (printable).")] = (
            Format.md
        ),
        what: Annotated[What, typer.Option("--what", help="policy, signs or annex.")] = (
            What.policy
        ),
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
        ] = None,
    ) -> None:
        """Print the policy (or signs, or annex) as it reads with today's configuration."""
        with open_context(config) as ctx:
            text = PolicyService.of(ctx).render(what, lang.value, fmt.value)
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")

    @policy.command("publish")
    def publish(
        config: ConfigOption = None,
        effective: Annotated[
            str | None,
            typer.Option(help="Effective date YYYY-MM-DD (at least 7 days ahead; default 7)."),
        ] = None,
    ) -> None:
        """Publish the live policy as a new version (with a diff; recorded in the ledger)."""
        with open_context(config) as ctx, reported():
            try:
                when = date.fromisoformat(effective) if effective else None
            except ValueError as exc:
                raise ValidationFailed(f"--effective: not a date: {effective!r}") from exc
            version = PolicyService.of(ctx).publish(Principal.local(getpass.getuser()), when)
        console.print(
            f"published version {version.number} (announced {version.announced_on}, "
            f"effective {version.effective_on}, sha256 {version.sha256[:16]}…)"
        )

    @policy.command("history")
    def history_command(config: ConfigOption = None) -> None:
        """The published versions, newest first."""
        with open_context(config) as ctx:
            versions = PolicyService.of(ctx).history()
        table = Table("version", "announced", "effective", "by", "sha256")
        for v in versions:
            table.add_row(str(v.number), v.announced_on, v.effective_on, v.actor, v.sha256[:16])
        console.print(table)

    @policy.command("check")
    def check(
        file: Annotated[Path, typer.Argument(help="A published text: Markdown, HTML or plain.")],
        config: ConfigOption = None,
    ) -> None:
        """List every difference between FILE and the live system (exit 1 if any)."""
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            err_console.print(f"[bold red]error:[/] {file}: {exc.strerror}")
            raise typer.Exit(2) from exc
        with open_context(config) as ctx:
            mismatches = PolicyService.of(ctx).check_text(text)
        for mismatch in mismatches:
            typer.echo(mismatch.line())
        typer.echo(f"{len(mismatches)} difference(s)")
        if mismatches:
            raise typer.Exit(1)
