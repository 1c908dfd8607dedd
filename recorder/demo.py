"""``appliance simulate`` and ``appliance demo``: simulated cameras, and the whole appliance on
a throw-away data dir fed by them (what ``make demo`` runs)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import typer

from appliance.access import AccessService, Principal
from appliance.cli._common import console, reported
from appliance.cli.main import initialize
from appliance.context import AppContext
from appliance.daemons import Supervisor, discover_daemons
from appliance.models import Role
from appliance.settings import Settings
from recorder.sim import CameraSimulator
from recorder.sim import main as simulator_main

__all__ = ["DEMO_OFFICER", "demo_officer", "demo_settings", "register"]

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "appliance.example.toml"
DEMO_OFFICER = "demo-officer"


def demo_settings(root: Path, urls: dict[str, str], port: int) -> Settings:
    """The example clinic's configuration, pointed at the simulator and a throw-away dir."""
    with EXAMPLE_CONFIG.open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    data["storage"].update(
        data_dir=str(root / "data"),
        key_dir=str(root / "keys"),
        min_free_bytes=0,
        alarm_free_bytes=0,
    )
    data["server"].update(host="127.0.0.1", port=port)
    cameras = []
    for camera, url in zip(data["cameras"], urls.values(), strict=False):
        cameras.append({**camera, "url": url})
    data["cameras"] = cameras
    return Settings(**data)


def demo_officer(ctx: AppContext) -> tuple[str, str]:
    """A video officer for the demo only (username, generated password), so a newcomer reaches
    footage, the request desk and the health page without an API call. Created as root at the
    console would, so it is in the ledger and raises the new-officer alarm like any other."""
    access = AccessService(ctx.db, ctx.clock, ctx.settings.server, ctx.ledger)
    _user, password = access.create_user(
        Principal.local("demo"),
        username=DEMO_OFFICER,
        role=Role.officer,
        display_name="Demo officer (demo only)",
        title="DEMO ONLY",
    )
    assert password is not None
    return DEMO_OFFICER, password


def register(app: typer.Typer) -> None:
    @app.command(
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def simulate(ctx: typer.Context) -> None:
        """Serve simulated RTSP cameras (GStreamer) until Ctrl-C; --help for options."""
        raise typer.Exit(simulator_main(list(ctx.args)))

    @app.command()
    def demo(
        cameras: int = typer.Option(30, help="How many simulated cameras."),
        port: int = typer.Option(8080, help="Port of the web viewer."),
        width: int = typer.Option(1920, help="Simulated resolution, width."),
        height: int = typer.Option(1080, help="Simulated resolution, height."),
        keep: bool = typer.Option(False, help="Keep the throw-away data dir on exit."),
    ) -> None:
        """Simulated cameras + init + run on a throw-away data dir; prints URL and login."""
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        root = Path(tempfile.mkdtemp(prefix="appliance-demo-"))
        console.print(f"preparing {cameras} simulated cameras ({width}x{height}) ...")
        try:
            with CameraSimulator(cameras, width=width, height=height) as sim, reported():
                settings = demo_settings(root, sim.urls, port)
                result = initialize(settings, insecure_no_passphrase=True)
                ctx = AppContext.open(settings)
                officer, officer_password = demo_officer(ctx)
                supervisor = Supervisor(ctx, discover_daemons())
                supervisor.install_signal_handlers()
                supervisor.start()
                console.rule("[bold]appliance demo")
                console.print(f"web viewer:  [bold]http://127.0.0.1:{port}/[/]")
                console.print(
                    f"first admin: [bold]{result.admin_username}[/] / "
                    f"[bold]{result.admin_password}[/]"
                )
                console.print(
                    f"demo officer: [bold]{officer}[/] / [bold]{officer_password}[/] "
                    "[yellow](DEMO ONLY: sees every camera, the request desk and the health "
                    "page; never create such an account on a real site)[/]"
                )
                console.print(
                    f"cameras:     {len(settings.cameras)} via {sim.url('cam1', False)} ..."
                )
                console.print(f"data dir:    {root} (deleted on exit)")
                console.print("Ctrl-C stops.")
                try:
                    supervisor.run_forever()
                finally:
                    ctx.close()
        finally:
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
