"""``appliance recorder ...``: the recorder's commands (status, reconcile)."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlmodel import select

from appliance.cli._common import ConfigOption, console, load, reported
from appliance.clock import from_ms
from appliance.context import AppContext
from appliance.models.media import CameraStatus
from recorder.reconcile import reconcile

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``recorder`` command group (entry point of ``appliance.cli``)."""
    group = typer.Typer(help="Camera recording: status and storage checks.", no_args_is_help=True)
    app.add_typer(group, name="recorder")

    @group.command("status")
    def status(config: ConfigOption = None) -> None:
        """Show what the recorder last reported for each camera."""
        settings = load(config)
        with reported():
            ctx = AppContext.open(settings)
            try:
                with ctx.db.session() as session:
                    rows = {r.camera_id: r for r in session.exec(select(CameraStatus)).all()}
            finally:
                ctx.close()
        table = Table(title="cameras (times UTC)")
        for column in ("camera", "state", "reason", "since", "last footage"):
            table.add_column(column)
        details = []
        for camera in settings.cameras:
            row = rows.get(camera.id)
            if row is None:
                table.add_row(camera.id, "never started", "", "", "")
                continue
            last = row.last_segment_end_ms
            table.add_row(
                camera.id,
                row.state,
                row.reason,
                f"{from_ms(row.since_ms):%m-%d %H:%M:%S}",
                f"{from_ms(last):%m-%d %H:%M:%S}" if last else "",
            )
            if row.detail:
                details.append(f"{camera.id}: {row.detail}")
        console.print(table)
        for line in details:
            console.print(line, highlight=False, markup=False)

    @group.command("reconcile")
    def reconcile_cmd(config: ConfigOption = None) -> None:
        """Check segment files against the index and repair (run while the recorder is stopped).

        Deletes temp files and unreadable orphans, re-indexes complete orphans, reports rows
        whose file is missing (exit 1 if any).
        """
        settings = load(config)
        with reported():
            ctx = AppContext.open(settings)
            try:
                report = reconcile(ctx.db, settings.segments_dir, ctx.clock)
            finally:
                ctx.close()
        for name, paths in vars(report).items():
            console.print(f"{name.replace('_', ' ')}: {len(paths)}")
            for path in paths:
                console.print(f"  {path}")
        if report.missing_files:
            raise typer.Exit(1)
