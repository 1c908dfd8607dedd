"""``appliance ledger``: verify, sign and export heads, export the management ledger, cut.

Exporting the management ledger is an access (R-SEC-3): its ``ledger_read`` entry, actor the
local OS user, is written before the file, and without it no file is written (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from appliance.cli._common import ConfigOption, console, err_console, load, reported
from appliance.cli.vault import cli_actor
from appliance.clock import to_ms
from appliance.context import AppContext
from appliance.errors import ValidationFailed
from appliance.health.verification import record_verification
from appliance.ledger import EventType, SignedHead
from appliance.ledger.heads import fingerprint_text
from appliance.ledger.management import (
    KIND_LABELS,
    ManagementKind,
    ManagementQuery,
    management_rows,
    to_csv,
    to_html,
)
from appliance.settings import Settings

__all__ = ["register"]

EXIT_TAMPERED = 1


class ExportFormat(StrEnum):
    csv = "csv"
    html = "html"


@contextmanager
def _context(settings: Settings) -> Iterator[AppContext]:
    with reported():
        ctx = AppContext.open(settings)
        try:
            yield ctx
        finally:
            ctx.close()


def _day(text: str, settings: Settings) -> datetime:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as exc:
        raise ValidationFailed(f"{text!r} is not a date (YYYY-MM-DD)") from exc
    return datetime.combine(day, time(0), tzinfo=settings.zone)


def _paper(text: str) -> tuple[int, str]:
    seq, _, prefix = text.partition(":")
    if not seq.strip().isdigit() or not prefix.strip():
        raise ValidationFailed(f"--paper {text!r}: expected SEQ:HASH, e.g. 1234:90306db9f95ec7ae")
    return int(seq), prefix


def _write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding, newline="")


def register(app: typer.Typer) -> None:
    ledger_app = typer.Typer(
        name="ledger",
        help="The tamper-evident ledger: verify, signed heads, management ledger, retention.",
        no_args_is_help=True,
    )
    app.add_typer(ledger_app)

    @ledger_app.command("verify")
    def verify(
        config: ConfigOption = None,
        head: Annotated[
            list[Path] | None,
            typer.Option("--head", help="An exported head (JSON) to check against; repeatable."),
        ] = None,
        paper: Annotated[
            list[str] | None,
            typer.Option(
                "--paper",
                help="A head copied from the paper ledger, SEQ:HASH (16+ hex digits); repeatable.",
            ),
        ] = None,
        heads_file: Annotated[
            Path | None,
            typer.Option(
                "--heads-file",
                help="A copy of the heads file (ledger.heads_file): each head in it must be "
                "in the database, unchanged.",
            ),
        ] = None,
        key_fingerprint: Annotated[
            str | None,
            typer.Option(
                "--key-fingerprint",
                help="The verify key's fingerprint as written down (`ledger head`, `vault "
                "status`; 32+ hex digits): fail if the key dir holds another key.",
            ),
        ] = None,
        continuity: Annotated[
            bool,
            typer.Option(
                "--continuity/--no-continuity",
                help="Check that heads were signed every ledger.head_interval_s up to now "
                "(skip for a copy of the database examined later).",
            ),
        ] = True,
    ) -> None:
        """Check every entry, the tip and the signed heads; exit 1 naming the first problem."""
        settings = load(config)
        with _context(settings) as ctx:
            heads = [SignedHead.read(path) for path in head or []]
            report = ctx.ledger.verify(
                heads=heads,
                paper=[_paper(p) for p in paper or []],
                heads_file=heads_file,
                continuity=continuity,
                key_fingerprint=key_fingerprint,
            )
            with ctx.db.session() as session:  # the health page shows the last verification
                record_verification(session, report, ctx.clock.now_ms(), "cli")
        for note in report.notes:
            console.print(f"note: {escape(note)}", highlight=False)
        # One line each, escaped: scripts grep the failure kind, "[continuity]" and the like.
        if not report.ok:
            err_console.print(
                f"[bold red]{escape(report.summary())}[/]", highlight=False, soft_wrap=True
            )
            raise typer.Exit(EXIT_TAMPERED)
        console.print(f"[green]{escape(report.summary())}[/]", highlight=False, soft_wrap=True)

    @ledger_app.command("head")
    def head(
        config: ConfigOption = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Write the signed head as JSON here (for witnessing)."),
        ] = None,
    ) -> None:
        """Sign the current head, store it, print it for the paper ledger and export it."""
        settings = load(config)
        with _context(settings) as ctx:
            signed = ctx.ledger.sign_head()
            fingerprint = fingerprint_text(ctx.ledger.verify_key)
            if out is not None:
                _write(out, signed.to_json())
        console.print(signed.to_text(settings.zone), highlight=False)
        console.print(
            f"key fingerprint (pin with --key-fingerprint): {fingerprint}", soft_wrap=True
        )
        if out is not None:
            console.print(f"written to {out}")

    @ledger_app.command("export")
    def export(
        date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
        out: Annotated[Path, typer.Option("--out", help="File to write.")],
        config: ConfigOption = None,
        date_to: Annotated[
            str | None, typer.Option("--to", help="Last day, inclusive (default: --from).")
        ] = None,
        kind: Annotated[
            list[ManagementKind] | None,
            typer.Option("--type", help="Row type; repeatable (default: all)."),
        ] = None,
        camera: Annotated[str | None, typer.Option("--camera", help="Camera id.")] = None,
        person: Annotated[
            str | None, typer.Option("--person", help="Officer, viewer, recipient, requester.")
        ] = None,
        fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.csv,
    ) -> None:
        """Export the management ledger (관리대장) as CSV or a printable HTML page."""
        settings = load(config)
        with _context(settings) as ctx:
            first = _day(date_from, settings)
            last = _day(date_to, settings) if date_to else first
            if last < first:
                raise ValidationFailed("--to is before --from")
            query = ManagementQuery(
                from_ms=to_ms(first),
                to_ms=to_ms(last + timedelta(days=1)),
                kinds=frozenset(kind) if kind else None,
                camera_id=camera,
                person=person,
            )
            rows = management_rows(ctx.ledger, query)
            ctx.ledger.append(
                EventType.ledger_read,
                actor=cli_actor(),
                camera_id=camera or None,
                data={
                    "ledger": "management",
                    "from_ms": query.from_ms,
                    "to_ms": query.to_ms,
                    "format": fmt.value,
                    "rows": len(rows),
                    "filters": {
                        "types": sorted(k.value for k in query.kinds or ()),
                        "camera": camera or "",
                        "person": person or "",
                    },
                    "via": "cli",
                },
            )
            if fmt == ExportFormat.csv:
                _write(out, to_csv(rows), encoding="utf-8-sig")
            else:
                tip = ctx.ledger.tip()
                officer = settings.site.officer
                kinds = ", ".join(KIND_LABELS[k] for k in sorted(query.kinds or ()))
                _write(
                    out,
                    to_html(
                        rows,
                        site_name=settings.site.name,
                        officer=f"{officer.name} ({officer.department} {officer.title})",
                        range_text=f"{first:%Y-%m-%d} ~ {last:%Y-%m-%d}"
                        + (f" ({kinds})" if kinds else ""),
                        generated_at=ctx.clock.now()
                        .astimezone(settings.zone)
                        .strftime("%Y-%m-%d %H:%M"),
                        tip_text=f"원장 현재 번호 {tip.seq}, 해시 {tip.hash_hex[:16]}",
                    ),
                )
        console.print(f"{len(rows)} rows written to {out}")

    @ledger_app.command("cut")
    def cut(config: ConfigOption = None) -> None:
        """Remove entries older than ledger.retention_days behind a signed checkpoint."""
        settings = load(config)
        with _context(settings) as ctx:
            result = ctx.ledger.cut()
        if result is None:
            console.print("nothing to cut")
            return
        console.print(
            f"removed {result.entries_removed} entries; checkpoint at seq "
            f"{result.checkpoint.seq} (hash {result.checkpoint.hash_hex[:16]})"
        )
