"""Live view through the camera simulator and the real recorder: purpose and ledger first, the
recorder's packets remuxed without decoding, frames as the camera sent them, end recorded."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from api.security import CSRF_HEADER
from appliance.access import Principal
from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import Role, ViewingSpan
from appliance.models.access import LoginSession
from appliance.settings import Settings
from recorder.daemon import RecorderDaemon
from recorder.sim import CameraSimulator
from tests.support.recorder import (
    camera_entry,
    recorder_config,
    served_frames,
    sim_kwargs,
    vcl_signature,
    wait_for,
)

PASSWORD = "correct horse battery"


@pytest.fixture
def live_ctx(tmp_path: Path) -> Iterator[tuple[AppContext, RecorderDaemon]]:
    with CameraSimulator(1, **sim_kwargs()) as sim:
        data = recorder_config(tmp_path, [camera_entry("cam01", sim.url("cam1"))])
        settings = Settings(**data)
        clock = SystemClock()
        initialize(settings, clock, insecure_no_passphrase=True)
        ctx = AppContext.open(settings, clock)
        recorder = RecorderDaemon(ctx)
        recorder.start()
        try:
            yield ctx, recorder
        finally:
            recorder.stop()
            ctx.close()


def test_live_view_through_the_simulator(
    live_ctx: tuple[AppContext, RecorderDaemon],
) -> None:
    ctx, recorder = live_ctx
    app = create_app(ctx)
    root = Principal.local("root")
    user, _ = app.state.access.create_user(
        root, username="guard", role=Role.viewer, display_name="경비", password=PASSWORD
    )
    app.state.access.change_grants(root, user.id, add=["cam01"])
    wait_for(lambda: bool(recorder.fanout("cam01").streams), 20, "cam01 to stream")
    client = TestClient(app)
    login = client.post("/api/auth/login", json={"username": "guard", "password": PASSWORD})
    client.headers[CSRF_HEADER] = login.json()["csrf_token"]

    no_purpose = client.post(
        "/api/viewing", json={"kind": "live", "cameras": ["cam01"], "purpose": {}}
    )
    assert no_purpose.status_code == 422
    opened = client.post(
        "/api/viewing",
        json={
            "kind": "live",
            "cameras": ["cam01"],
            "purpose": {"category": "safety", "text": "야간 출입문 상태 확인"},
        },
    )
    assert opened.status_code == 201, opened.text
    viewing_id = opened.json()["id"]
    (start,) = ctx.ledger.entries(events=[EventType.view_live_start], refs=[f"view:{viewing_id}"])
    assert start.data["cameras"] == ["cam01"] and "출입문" in start.data["purpose"]

    received = bytearray()
    with client.stream(
        "GET", f"/api/viewing/{viewing_id}/live", params={"camera_id": "cam01"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "video/mp4"
        for chunk in response.iter_bytes():
            received += chunk
            if received.count(b"moof") >= 6:  # a few fragments (about 3 s)
                break

    # The bytes are the camera's own pictures, in the order it sent them.
    container: Any
    with av.open(io.BytesIO(bytes(received))) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert packets[0].is_keyframe
    with av.open(io.BytesIO(bytes(received))) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 25  # it decodes: about 1 s or more
    served = served_frames()
    index = {sig: i for i, (sig, _) in enumerate(served)}
    signatures = [vcl_signature(_annexb(bytes(p))) for p in packets]
    first = index[signatures[0]]
    assert all(sig == served[(first + k) % len(served)][0] for k, sig in enumerate(signatures)), (
        "live frames differ from what the camera sent"
    )

    ended = client.post(f"/api/viewing/{viewing_id}/end").json()
    assert ended["end_reason"] == "closed"
    assert ended["spans"][0]["bytes_sent"] >= len(received) > 0
    (end,) = ctx.ledger.entries(events=[EventType.view_live_end], refs=[f"view:{viewing_id}"])
    assert end.data["watched"][0]["camera"] == "cam01"
    assert (
        client.get(f"/api/viewing/{viewing_id}/live", params={"camera_id": "cam01"}).status_code
        == 403
    )
    client.close()


def _annexb(length_prefixed: bytes) -> bytes:
    """MP4 samples carry 4-byte lengths; the simulator's signatures are over Annex-B units."""
    out, pos = bytearray(), 0
    while pos + 4 <= len(length_prefixed):
        size = int.from_bytes(length_prefixed[pos : pos + 4], "big")
        out += b"\x00\x00\x00\x01" + length_prefixed[pos + 4 : pos + 4 + size]
        pos += 4 + size
    return bytes(out)


def test_live_view_ends_when_the_sign_in_goes_idle(
    live_ctx: tuple[AppContext, RecorderDaemon],
) -> None:
    """Watching is not activity: a sign-in idle past server.session_idle_s stops the stream
    within viewing.recheck_s (issue 13, finding 8)."""
    ctx, recorder = live_ctx
    app = create_app(ctx)
    root = Principal.local("root")
    user, _ = app.state.access.create_user(
        root, username="guard", role=Role.viewer, display_name="경비", password=PASSWORD
    )
    app.state.access.change_grants(root, user.id, add=["cam01"])
    wait_for(lambda: bool(recorder.fanout("cam01").streams), 20, "cam01 to stream")
    client = TestClient(app)
    login = client.post("/api/auth/login", json={"username": "guard", "password": PASSWORD})
    client.headers[CSRF_HEADER] = login.json()["csrf_token"]
    purpose = {"category": "safety", "text": "야간 출입문 상태 확인"}
    opened = client.post(
        "/api/viewing", json={"kind": "live", "cameras": ["cam01"], "purpose": purpose}
    )
    viewing_id = opened.json()["id"]
    with client.stream(
        "GET", f"/api/viewing/{viewing_id}/live", params={"camera_id": "cam01"}
    ) as response:
        chunks = response.iter_bytes()
        assert next(chunks)
        idle_ms = (ctx.settings.server.session_idle_s + 1) * 1000
        with ctx.db.session() as session:
            (row,) = session.exec(select(LoginSession)).all()
            row.last_seen_ms -= idle_ms
            row.created_ms -= idle_ms
            session.add(row)
        began = time.monotonic()
        for _ in chunks:
            assert time.monotonic() - began < ctx.settings.viewing.recheck_s + 8, "still live"
    with ctx.db.session() as session:
        (span,) = session.exec(select(ViewingSpan)).all()
    assert span.outcome == "stopped: sign-in idle"
    client.close()


def test_stop_cuts_a_watched_live_view_after_a_short_grace(tmp_path: Path) -> None:
    """A live view being watched never ends by itself: the web daemon's stop (SIGTERM) cancels
    it after SHUTDOWN_GRACE_S instead of leaving uvicorn waiting past its 10 s join, still
    serving, while the restart waits (found by bench/soak.py)."""
    import socket
    import threading

    import httpx

    from api.daemon import SHUTDOWN_GRACE_S, WebDaemon

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with CameraSimulator(1, **sim_kwargs()) as sim:
        data = recorder_config(tmp_path, [camera_entry("cam01", sim.url("cam1"))])
        data["server"] = {"host": "127.0.0.1", "port": port}
        settings = Settings(**data)
        initialize(settings, SystemClock(), insecure_no_passphrase=True)
        ctx = AppContext.open(settings, SystemClock())
        recorder = RecorderDaemon(ctx)
        recorder.start()
        web = WebDaemon(ctx)
        watching, done = threading.Event(), threading.Event()

        def watch() -> None:  # a guard watching the camera, reading all the while
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                login = client.post(
                    "/api/auth/login", json={"username": "guard", "password": PASSWORD}
                )
                client.headers[CSRF_HEADER] = login.json()["csrf_token"]
                purpose = {"category": "safety", "text": "야간 출입문 상태 확인"}
                opened = client.post(
                    "/api/viewing", json={"kind": "live", "cameras": ["cam01"], "purpose": purpose}
                )
                url = f"/api/viewing/{opened.json()['id']}/live"
                try:
                    with client.stream("GET", url, params={"camera_id": "cam01"}) as response:
                        for _ in response.iter_raw():
                            watching.set()
                            if done.is_set():
                                return
                except httpx.HTTPError:
                    pass  # cut by the stop

        try:
            root = Principal.local("root")
            user, _ = web.app.state.access.create_user(
                root, username="guard", role=Role.viewer, display_name="경비", password=PASSWORD
            )
            web.app.state.access.change_grants(root, user.id, add=["cam01"])
            web.start()
            wait_for(lambda: bool(recorder.fanout("cam01").streams), 20, "cam01 to stream")
            wait_for(lambda: web._server.started, 20, "the web server")
            threading.Thread(target=watch, daemon=True).start()
            assert watching.wait(20), "no live picture"
            began = time.monotonic()
            web.stop()
            stopped_s = time.monotonic() - began
            done.set()
            assert stopped_s < SHUTDOWN_GRACE_S + 3, stopped_s  # was 10 s, the join timeout
            assert not web.alive()  # uvicorn is done, not left serving
        finally:
            done.set()
            recorder.stop()
            ctx.close()
