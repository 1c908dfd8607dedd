"""Retention commands: ``hold``, ``destruction export``, ``retention cycle``, ``alarms``,
``fsck``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from appliance.cli._common import ConfigOption, console, err_console
from appliance.cli.vault import cli_actor, open_context
from appliance.clock import from_ms, to_ms
from appliance.errors import Conflict, NotFound, ValidationFailed
from appliance.ledger import EventType
from appliance.retention import (
    ProblemKind,
    Retention,
    fsck,
    list_destruction,
    list_holds,
    open_alarms,
    place_hold,
    release_hold,
    to_csv,
    to_html,
)
from appliance.retention.destruction import camera_names
from appliance.vault.control import control_request, socket_path

__all__ = ["parse_time", "register"]

ByOption = Annotated[
    str | None,
    typer.Option(
        "--by", help="Who does it (recorded). Default: the login user.", show_default=False
    ),
]


def parse_time(text: str, zone: ZoneInfo) -> int:
    """UTC ms of an ISO 8601 time; without an offset it is read in the site's time zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(f"not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return to_ms(moment)


def _local(ms: int | None, zone: ZoneInfo) -> str:
    return "" if ms is None else from_ms(ms).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def register(app: typer.Typer) -> None:
    hold = typer.Typer(help="Holds: footage kept for a request or investigation (R-RET-3).")
    app.add_typer(hold, name="hold", no_args_is_help=True)

    @hold.command("place")
    def hold_place(
        camera: Annotated[list[str], typer.Option("--camera", help="Camera id (repeatable).")],
        start: Annotated[str, typer.Option("--from", help="Start, ISO 8601 (site time).")],
        end: Annotated[str, typer.Option("--to", help="End, ISO 8601 (site time).")],
        reason: Annotated[str, typer.Option("--reason", help="Why the footage is held.")],
        reference: Annotated[
            str, typer.Option("--reference", help="Request id or investigation reference.")
        ] = "",
        expires: Annotated[
            str | None, typer.Option("--expires", help="Release automatically at this time.")
        ] = None,
        by: ByOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Hold footage: it is not purged by retention, storage pressure or deletion."""
        with open_context(config) as ctx, ctx.db.session() as session:
            zone = ctx.settings.zone
            view = place_hold(
                ctx,
                session,
                camera_ids=camera,
                start_ms=parse_time(start, zone),
                end_ms=parse_time(end, zone),
                reason=reason,
                reference=reference,
                placed_by=by or cli_actor(),
                expires_ms=parse_time(expires, zone) if expires else None,
            )
        console.print(f"hold {view.hold.id} placed on {', '.join(view.camera_ids)}")

    @hold.command("release")
    def hold_release(
        hold_id: Annotated[int, typer.Argument(help="The hold's number.")],
        reason: Annotated[str, typer.Option("--reason", help="Why it ends.")],
        by: ByOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Release a hold; its footage follows its group's retention again."""
        with open_context(config) as ctx, ctx.db.session() as session:
            release_hold(ctx, session, hold_id, released_by=by or cli_actor(), reason=reason)
        console.print(f"hold {hold_id} released")

    @hold.command("list")
    def hold_list(
        include_released: Annotated[
            bool, typer.Option("--all", help="Include released holds.")
        ] = False,
        config: ConfigOption = None,
    ) -> None:
        """List holds (ledgered before they are shown: R-SEC-3)."""
        with open_context(config) as ctx:
            with ctx.db.session() as session:
                holds = list_holds(session, include_released=include_released)
            # Nothing is shown unless the read is in the ledger (LedgerUnavailable: exit 2).
            ctx.ledger.append(
                EventType.holds_read,
                actor=cli_actor(),
                data={"rows": len(holds), "include_released": include_released, "via": "cli"},
            )
            zone = ctx.settings.zone
            table = Table(title="holds")
            for column in ("id", "cameras", "from", "to", "reason", "reference", "by", "state"):
                table.add_column(column)
            for view in holds:
                h = view.hold
                state = (
                    f"released {_local(h.released_ms, zone)}"
                    if h.released_ms
                    else (f"until {_local(h.expires_ms, zone)}" if h.expires_ms else "active")
                )
                table.add_row(
                    str(h.id),
                    ", ".join(view.camera_ids),
                    _local(h.start_ms, zone),
                    _local(h.end_ms, zone),
                    h.reason,
                    h.reference,
                    h.placed_by,
                    state,
                )
        console.print(table)

    destruction = typer.Typer(help="The destruction ledger (R-RET-4).", no_args_is_help=True)
    app.add_typer(destruction, name="destruction")

    @destruction.command("export")
    def destruction_export(
        fmt: Annotated[str, typer.Option("--format", help="csv or html (printable).")] = "csv",
        out: Annotated[
            Path | None, typer.Option("--out", help="File to write (default: stdout).")
        ] = None,
        since: Annotated[str | None, typer.Option("--from", help="Executed from (ISO).")] = None,
        until: Annotated[str | None, typer.Option("--to", help="Executed before (ISO).")] = None,
        camera: Annotated[str | None, typer.Option("--camera", help="One camera.")] = None,
        config: ConfigOption = None,
    ) -> None:
        """Export the destruction ledger as CSV or a printable HTML page (Korean headers)."""
        with open_context(config) as ctx:
            if fmt not in ("csv", "html"):
                raise ValidationFailed("--format is csv or html")
            zone = ctx.settings.zone
            with ctx.db.session() as session:
                records = list_destruction(
                    session,
                    since_ms=parse_time(since, zone) if since else None,
                    until_ms=parse_time(until, zone) if until else None,
                    camera_id=camera,
                )
                names = camera_names(session)
            if fmt == "csv":
                text = to_csv(records, zone, names)
            else:
                text = to_html(
                    records,
                    zone,
                    site=ctx.settings.site.name,
                    officer=ctx.settings.site.officer.name,
                    printed_ms=ctx.clock.now_ms(),
                    names=names,
                )
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            err_console.print(f"{len(records)} records written to {out}")

    retention = typer.Typer(help="The purge scheduler.", no_args_is_help=True)
    app.add_typer(retention, name="retention")

    @retention.command("cycle")
    def retention_cycle(config: ConfigOption = None) -> None:
        """Run one purge cycle now (the running appliance does this every 30 s)."""
        with open_context(config) as ctx:
            report = Retention(ctx, actor=cli_actor()).run_cycle()
        console.print(
            f"expired: {report.expired.segments} segments, "
            f"pressure: {report.pressure.segments}, "
            f"holds released: {len(report.released_holds)}, "
            f"keys destroyed: {len(report.destroyed_keys)}, storage: {report.storage.value}"
        )

    @app.command("alarms")
    def alarms(config: ConfigOption = None) -> None:
        """List open alarms."""
        with open_context(config) as ctx, ctx.db.session() as session:
            zone = ctx.settings.zone
            table = Table(title="open alarms")
            for column in ("kind", "subject", "since", "message"):
                table.add_column(column)
            for alarm in open_alarms(session):
                table.add_row(
                    alarm.kind, alarm.subject, _local(alarm.raised_ms, zone), alarm.message
                )
        console.print(table)

    @app.command("fsck")
    def fsck_command(
        repair: Annotated[
            bool, typer.Option("--repair", help="Fix what can be fixed (appliance stopped).")
        ] = False,
        no_hash: Annotated[
            bool, typer.Option("--no-hash", help="Check sizes only, not the BLAKE2b hashes.")
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="Repair even though the appliance runs.")
        ] = False,
        config: ConfigOption = None,
    ) -> None:
        """Check segment files against the index (hashes, orphans, missing and temp files) and
        export packages against their rows."""
        with open_context(config) as ctx:
            if repair and not force:
                try:
                    control_request(socket_path(ctx.settings), {"op": "status"}, 5)
                except NotFound:
                    pass
                else:
                    raise Conflict(
                        "the appliance is running: stop it before `fsck --repair` "
                        "(a temp or just-written file is a live recording)"
                    )
            report = fsck(ctx, repair=repair, verify_hash=not no_hash, actor=cli_actor())
        for problem in report.problems:
            where = problem.path or problem.detail
            console.print(f"{problem.kind.value}: {where}", highlight=False)
        console.print(
            f"{report.rows} rows, {report.files} files, {report.objects} objects, "
            f"{report.hashed_bytes} bytes hashed, "
            f"{len(report.problems)} problems, {report.repaired} repaired"
        )
        unrepaired = [p for p in report.problems if not repair or p.kind in _DAMAGE]
        if unrepaired:
            raise typer.Exit(1)


_DAMAGE = {
    ProblemKind.hash_mismatch,
    ProblemKind.size_mismatch,
    ProblemKind.key_missing,
    ProblemKind.object_size_mismatch,
}
