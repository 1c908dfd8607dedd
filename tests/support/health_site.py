"""A site for the health page's browser test: simulated cameras recorded by the real recorder,
the health daemon checking every second, alarms mailed to a real SMTP server on loopback, the
vault sealed by a passphrase (so it starts locked), and the app served by uvicorn.

Separate from the shared browser site (tests/browser/conftest.py): this one stops a camera
and locks the vault, which the other browser tests must not see.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from api.app import create_app
from appliance.access import AccessService, Principal
from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.health.daemon import HealthDaemon
from appliance.models import Role
from appliance.settings import Settings
from recorder.daemon import RecorderDaemon
from recorder.sim import CameraSimulator
from tests.support.recorder import camera_entry, recorder_config, sim_kwargs, wait_for
from tests.support.smtp import Inbox, smtp_server
from tests.support.users import PASSWORD

__all__ = ["DOWN_AFTER_S", "PASSPHRASE", "HealthSite", "health_site"]

PASSPHRASE = "health page test passphrase"
DOWN_AFTER_S = 6


@dataclass
class HealthSite:
    url: str
    ctx: AppContext
    access: AccessService
    sim: CameraSimulator
    inbox: Inbox
    cameras: list[str]


def _serve(app: object) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 15, "uvicorn to start")
    return server, thread, f"http://127.0.0.1:{port}"


@contextmanager
def health_site(tmp: Path, cameras: int) -> Iterator[HealthSite]:
    with smtp_server() as inbox, CameraSimulator(cameras, **sim_kwargs()) as sim:
        ids = [f"cam{i:02d}" for i in range(1, cameras + 1)]
        entries = [
            {**camera_entry(cid, sim.url(f"cam{i}")), "name": f"카메라 {i}"}
            for i, cid in enumerate(ids, start=1)
        ]
        data = recorder_config(tmp, entries)
        data["vault"] = {"kdf_strength": "interactive"}
        data["alarms"] = {
            "camera_down_after_s": DOWN_AFTER_S,
            "check_interval_s": 1,
            "email": {
                "host": "127.0.0.1",
                "port": inbox.port,
                "sender": "cctv@clinic.example",
                "starttls": False,
                "recipients": {"camera_down": ["it@clinic.example"]},
            },
        }
        settings = Settings(**data)
        clock = SystemClock()
        initialize(settings, clock, passphrase=PASSPHRASE)
        ctx = AppContext.open(settings, clock)
        recorder = RecorderDaemon(ctx)
        health = HealthDaemon(ctx)
        recorder.start()
        health.start()
        server: uvicorn.Server | None = None
        thread: threading.Thread | None = None
        try:
            app = create_app(ctx)
            access: AccessService = app.state.access
            root = Principal.local("root")
            for username, role in (("boxadmin", Role.admin), ("boxaudit", Role.auditor)):
                access.create_user(
                    root, username=username, role=role, display_name=username, password=PASSWORD
                )
            server, thread, url = _serve(app)
            yield HealthSite(url, ctx, access, sim, inbox, ids)
        finally:
            if server is not None and thread is not None:
                server.should_exit = True
                thread.join(timeout=10)
            health.stop()
            recorder.stop()
            ctx.close()
