"""The appliance as deployed, end to end, where systemd itself cannot run (PID 1 here is not
systemd, so ``systemd-run`` cannot start a transient unit): ``deploy/install.sh --root`` renders
the nginx site and makes the CA and certificate; the real ``appliance run`` is started with
``NOTIFY_SOCKET`` and ``WATCHDOG_USEC`` as systemd would set them; nginx serves it over TLS on
loopback; Chromium, trusting the CA imported into its NSS database as a clinic PC would (no
certificate error is ignored), signs in and plays recorded footage over HTTPS. Then the recorder
is really hung (its PostgreSQL tables locked while a camera drops: the worker and the indexer
block in the database) and the watchdog pings stop until the lock goes.

One test because each part needs the previous running; about 40 s (slow): recording, Chromium
and waiting out the stall limit are real time.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.deps import COOKIE_NAME
from appliance.access import AccessService, Principal
from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.models import Role
from appliance.settings import Settings
from recorder.sim import CameraSimulator
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.config import to_toml
from tests.support.notify import NotifyListener
from tests.support.recorder import camera_entry, recorder_config, segments_of, sim_kwargs, wait_for
from tests.support.tls_proxy import NGINX, NginxProxy, install_into
from tests.support.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.slow]

STALL_S = 5  # recorder.stall_after_s here (120 s on a box)
HSTS = "max-age=31536000"
PLAYING = """(selector) => {
  const v = document.querySelector(selector);
  return !!v && v.error === null && v.readyState >= 2 && v.currentTime > 1;
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _recorded_ms(ctx: AppContext) -> int:
    return sum(s.end_ms - s.start_ms for s in segments_of(ctx, "cam01"))


def _get(
    port: int, path: str, context: ssl.SSLContext | None, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, str]:
    conn: http.client.HTTPConnection
    if context is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    else:
        conn = http.client.HTTPSConnection("localhost", port, timeout=10, context=context)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.read()
    version = conn.sock.version() if isinstance(conn.sock, ssl.SSLSocket) else ""
    conn.close()
    return response, version or ""


def _check_tls(ca: Path, staff: int, plain: int, app: int) -> None:
    """The chain verifies against the CA alone; TLS 1.2+; one HSTS header; HTTP redirects."""
    trusting = ssl.create_default_context(cafile=str(ca))
    response, version = _get(staff, "/login", trusting)
    assert response.status == 200 and version == "TLSv1.3"
    assert response.headers.get_all("Strict-Transport-Security") == [HSTS]
    tls12 = ssl.create_default_context(cafile=str(ca))
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert _get(staff, "/login", tls12)[1] == "TLSv1.2"
    with pytest.raises(ssl.SSLCertVerificationError):  # without the CA: not trusted
        _get(staff, "/login", ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    redirect, _ = _get(plain, "/view?camera=cam01", None)
    assert redirect.status == 301
    assert redirect.headers["Location"] == f"https://127.0.0.1:{staff}/view?camera=cam01"
    # The appliance itself: no HSTS over plain HTTP; https only as a trusted proxy says.
    direct, _ = _get(app, "/login", None)
    assert direct.headers.get("Strict-Transport-Security") is None
    relayed, _ = _get(app, "/login", None, {"X-Forwarded-Proto": "https"})  # from loopback
    assert relayed.headers.get("Strict-Transport-Security") == HSTS


def _import_ca(home: Path, ca: Path) -> None:
    """What a clinic PC does once: the CA into the browser's trust store (NSS on Linux)."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "CCTV appliance CA", "-t", "C,,",
         "-i", str(ca)],
        check=True,
    )  # fmt: skip


def _play_over_https(playwright: Any, ctx: AppContext, home: Path, staff: int) -> None:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)}
    )
    try:
        context = browser.new_context(
            base_url=f"https://localhost:{staff}", ignore_https_errors=False, locale="ko-KR"
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        first = page.goto("/view?camera=cam01")  # a certificate error would raise here
        assert first is not None and first.headers["strict-transport-security"] == HSTS
        page.wait_for_url("**/login**")
        page.fill("#username", "guard")
        page.fill("#password", PASSWORD)
        with page.expect_response("**/api/auth/login") as login:
            page.click("#login-form button[type=submit]")
        assert login.value.status == 200
        page.wait_for_url("**/view?camera=cam01")
        (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
        assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        zone = ctx.settings.zone
        start = datetime.fromtimestamp(segments_of(ctx, "cam01")[0].start_ms / 1000, zone)
        now = datetime.now(zone)
        page.fill("#day", now.date().isoformat())
        page.fill("#from", start.strftime("%H:%M:%S") if start.date() == now.date() else "00:00:00")
        page.fill("#to", now.strftime("%H:%M:%S"))
        page.select_option("#category", "incident")
        page.fill("#purpose-text", "TLS 설치 확인")
        page.click("#open-viewing")
        page.wait_for_selector("#viewing:not([hidden])")
        page.wait_for_function(PLAYING, arg="#video-cam01", timeout=30_000)
        src = page.evaluate("() => document.querySelector('#video-cam01').currentSrc")
        assert src.startswith(f"https://localhost:{staff}/api/viewing/")
        page.click("#end-viewing")
        page.wait_for_selector("#ended:not([hidden])")
    finally:
        browser.close()


def _hang_and_recover(
    listener: NotifyListener, sim: CameraSimulator, ctx: AppContext, pg_url: str
) -> None:
    """A real hang: the recorder's tables locked by another session while cam01 drops. The
    worker blocks closing its run, the indexer inserting the last segment; no exception, no
    timeout (PostgreSQL waits for a lock indefinitely). The pings stop; they resume once the
    lock is released."""
    conninfo = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as locker:
        locker.execute("LOCK TABLE pending_segment, recording_run IN ACCESS EXCLUSIVE MODE")
        cut = time.monotonic()
        sim.stop_camera("cam1")
        stalled = listener.wait("STATUS", "stalled: *", timeout_s=STALL_S + 30, since=cut)
        assert "recorder: " in stalled.fields["STATUS"]
        deadline = time.monotonic() + 20
        while not all(
            part in (m.fields.get("STATUS") or "")
            for m in listener.messages(cut)[-1:]
            for part in ("camera cam01", "segment indexer")
        ):
            assert time.monotonic() < deadline, [m.fields for m in listener.messages(cut)]
            time.sleep(0.2)
        time.sleep(3)
        assert listener.pings(stalled.at + 0.5) == []  # systemd would restart us now
        locker.rollback()
    indexed = len(segments_of(ctx, "cam01"))
    sim.start_camera("cam1")
    resumed = listener.wait("STATUS", "running: *", timeout_s=30, since=stalled.at)
    wait_for(lambda: len(listener.pings(resumed.at)) >= 3, 15, "pings after the lock went")
    wait_for(lambda: len(segments_of(ctx, "cam01")) > indexed + 1, 30, "recording again")


def test_appliance_behind_nginx_under_the_notify_protocol(
    tmp_path: Path, pg_url: str, playwright: Any
) -> None:
    if not (Path(CHROMIUM).exists() and Path(NGINX).exists()):
        pytest.skip("needs Debian's chromium and nginx (scripts/setup.sh)")
    if os.geteuid() != 0:
        pytest.skip("install.sh sets owners in its root (root only)")
    app_port, staff_port, plain_port = _free_port(), _free_port(), _free_port()
    with CameraSimulator(1, **sim_kwargs()) as sim:
        cameras = [
            camera_entry("cam01", sim.url("cam1")),
            # Nobody answers: a camera away for the whole test must not stop the pings.
            camera_entry("cam02", "rtsp://127.0.0.1:9/none"),
        ]
        data = recorder_config(
            tmp_path, cameras, reconnect_max_backoff_s=2 * STALL_S, stall_after_s=STALL_S
        )
        data["database"] = {"url": pg_url}
        data["server"] = {"host": "127.0.0.1", "port": app_port, "behind_tls_proxy": True}
        settings = Settings(**data)
        initialize(settings, SystemClock(), insecure_no_passphrase=True)
        ctx = AppContext.open(settings, SystemClock())
        access = AccessService(ctx.db, ctx.clock, settings.server, ctx.ledger)
        guard, _ = access.create_user(
            Principal.local("root"), username="guard", role=Role.viewer, display_name="Guard",
            password=PASSWORD, department="원무과", title="팀장",
        )  # fmt: skip
        assert guard.id is not None
        access.change_grants(Principal.local("root"), guard.id, add=["cam01"])
        config = tmp_path / "appliance.toml"
        config.write_text(to_toml(data), encoding="utf-8")

        root = tmp_path / "root"
        install_into(
            root, Path(sys.prefix), "--hostname", "localhost", "--ip", "127.0.0.1",
            "--staff-listen", f"127.0.0.1:{staff_port}", "--http-listen", f"127.0.0.1:{plain_port}",
            "--upstream", f"127.0.0.1:{app_port}",
        )  # fmt: skip
        proxy = NginxProxy(root, tmp_path / "nginx")
        proxy.test_config()

        log = tmp_path / "appliance.log"
        listener = NotifyListener(tmp_path / "notify")
        env = {**os.environ, "NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "3000000"}
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from appliance.cli import app; app()",
                 "run", "--config", str(config)],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        try:
            ready = listener.wait("READY", "1", timeout_s=90)
            assert "recorder" in ready.fields["STATUS"] and "web" in ready.fields["STATUS"]
            assert _get(app_port, "/login", None)[0].status == 200  # READY: the pages answer
            proxy.start([staff_port, plain_port])
            wait_for(lambda: _recorded_ms(ctx) >= 6000, 60, "6 s of footage on cam01")

            ca = root / "etc/appliance/tls/ca.crt"
            _check_tls(ca, staff_port, plain_port, app_port)
            home = tmp_path / "home"
            _import_ca(home, ca)
            _play_over_https(playwright, ctx, home, staff_port)

            # Pinged every 1.5 s (half of WatchdogSec = 3 s) all along, cam02 away or not:
            # never a gap in which systemd would have restarted the service.
            # On a fast machine the browser part may end sooner: watch at least that long.
            time.sleep(max(0.0, ready.at + 2 * STALL_S + 1.0 - time.monotonic()))
            pings = listener.pings(ready.at)
            gaps = [b - a for a, b in zip([ready.at, *pings], pings, strict=False)]
            assert pings and max(gaps) < 3.0, gaps
            assert not [m for m in listener.messages() if "stalled" in m.fields.get("STATUS", "")]

            _hang_and_recover(listener, sim, ctx, pg_url)

            stop = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            listener.wait("STOPPING", "1", timeout_s=30, since=stop)
            assert proc.wait(timeout=60) == 0, log.read_text(errors="replace")[-3000:]
        except BaseException:
            print(log.read_text(errors="replace")[-5000:])
            print(proxy.errors()[-2000:])
            raise
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proxy.stop()
            listener.close()
            ctx.close()
