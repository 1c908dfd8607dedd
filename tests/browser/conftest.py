"""A real site for the browser tests: a simulated camera recorded by the real recorder, the app
served by uvicorn on a loopback port, staff accounts, and Debian's Chromium via Playwright.

Built once per session (recording takes seconds); each test gets a fresh browser context, so
cookies never leak between tests. The clock is the system clock: cookies, session timeouts and
the recorder's wall-clock mapping must agree with the browser's time.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from appliance.access import AccessService, Principal, totp
from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.models import Role
from appliance.settings import Settings
from recorder.daemon import RecorderDaemon
from recorder.sim import CameraSimulator, SimCamera
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, Site, Tab
from tests.support.recorder import (
    SIM_BFRAMES,
    camera_entry,
    recorder_config,
    segments_of,
    sim_kwargs,
    wait_for,
)
from tests.support.users import PASSWORD

RECORDED_S = 8  # footage on cam01 and cam03 before the tests start


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    # Bind first and hand the socket over: no window in which another process takes the port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    thread.start()
    wait_for(lambda: server.started, 15, "uvicorn to start")
    return server, thread, f"http://127.0.0.1:{port}"


def _staff(access: AccessService) -> tuple[dict[str, int], str]:
    """Accounts: a viewer granted cam01, one without grants, an auditor, an officer, a viewer
    with TOTP, one to lock out, and a viewer granted cam03 (the B-frame camera)."""
    root = Principal.local("root")
    ids: dict[str, int] = {}
    for username, role in (
        ("guard", Role.viewer),
        ("nogrant", Role.viewer),
        ("audit", Role.auditor),
        ("officer", Role.officer),
        ("otp", Role.viewer),
        ("locky", Role.viewer),
        ("ward", Role.viewer),
    ):
        user, _ = access.create_user(
            root,
            username=username,
            role=role,
            display_name=username.title(),
            password=PASSWORD,
            department="원무과",
            title="팀장",
        )
        assert user.id is not None
        ids[username] = user.id
    for username in ("guard", "otp"):
        access.change_grants(root, ids[username], add=["cam01"])
    access.change_grants(root, ids["ward"], add=["cam03"])
    otp = access.login("otp", PASSWORD).principal
    secret, _ = access.totp_begin(otp)
    access.totp_confirm(otp, totp.totp(secret, access.clock.now_ms()))
    access.logout(otp)
    return ids, secret


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("site")
    # cam03 sends B-frames (issue 16: recorded natively, played back in Chromium).
    sims = [SimCamera(id="cam1"), SimCamera(id="cam3", bframes=SIM_BFRAMES)]
    with CameraSimulator(sims, **sim_kwargs()) as sim:
        cameras = [
            {**camera_entry("cam01", sim.url("cam1")), "name": "1층 로비"},
            # Nobody answers on port 9: a camera the recorder keeps reconnecting to.
            {**camera_entry("cam02", "rtsp://127.0.0.1:9/none"), "name": "2층 복도"},
            {**camera_entry("cam03", sim.url("cam3")), "name": "3층 처치실"},
        ]
        data = recorder_config(tmp, cameras)
        data["server"] = {"lockout_threshold": 2, "lockout_base_s": 60}
        # One recording at a time per person, so the page's "play here" tiles are exercised.
        data["viewing"] = {"recorded_streams_per_user": 1}
        settings = Settings(**data)
        clock = SystemClock()
        result = initialize(settings, clock, insecure_no_passphrase=True)
        assert result.admin_username and result.admin_password
        ctx = AppContext.open(settings, clock)
        recorder = RecorderDaemon(ctx)
        recorder.start()
        server: uvicorn.Server | None = None
        thread: threading.Thread | None = None
        try:
            app = create_app(ctx)
            access: AccessService = app.state.access
            ids, secret = _staff(access)
            server, thread, url = _serve(app)
            wait_for(
                lambda: all(
                    sum(s.end_ms - s.start_ms for s in segments_of(ctx, camera_id))
                    >= RECORDED_S * 1000
                    for camera_id in ("cam01", "cam03")
                ),
                60,
                f"{RECORDED_S} s of recorded footage on cam01 and cam03",
            )
            yield Site(
                url=url,
                ctx=ctx,
                access=access,
                admin_username=result.admin_username,
                admin_password=result.admin_password,
                totp_secret=secret,
                users=ids,
            )
        finally:
            if server is not None and thread is not None:
                server.should_exit = True
                thread.join(timeout=10)
            recorder.stop()
            ctx.close()


@pytest.fixture(scope="session")
def chromium(playwright: Any) -> Iterator[Any]:
    """Debian's Chromium (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def open_tab(site: Site, chromium: Any) -> Iterator[Any]:
    """``open_tab(locale="ko-KR")``: a page at 1280x800 on the site, in its own context."""
    contexts: list[Any] = []

    def make(locale: str = "ko-KR") -> Tab:
        context = chromium.new_context(
            base_url=site.url, locale=locale, viewport={"width": 1280, "height": 800}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

        def console(message: Any) -> None:
            # A refused API call (401, 422) is logged by Chromium as a failed resource load;
            # anything else at error level (a script error, a CSP violation) is a bug.
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                errors.append(f"console: {message.text}")

        page.on("console", console)
        return Tab(page, context, errors)

    yield make
    for context in contexts:
        context.close()
