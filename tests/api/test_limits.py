"""Issue 13, finding 4: floods over real HTTP (uvicorn on loopback, clients from 127.0.0.x).

Body limits answer 413 before authentication, a login flood from one address gets 429 while
another address still signs in, and sign-ins at once are bounded (503 with Retry-After).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.daemon import WebDaemon
from appliance.context import AppContext
from tests.support.users import PASSWORD, Staff

WRONG = "not the password"


@pytest.fixture
def server(ctx: AppContext, staff: Staff) -> Iterator[str]:
    ctx.settings = ctx.settings.model_copy(
        update={
            "server": ctx.settings.server.model_copy(
                update={"login_rate_per_min": 4, "login_concurrency": 1}
            )
        }
    )
    app = create_app(ctx)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


def _client(base: str, source: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=base, transport=transport, timeout=30)


def _login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"username": username, "password": password})


def test_a_large_body_is_refused_before_authentication(server: str) -> None:
    with _client(server, "127.0.0.1") as client:
        big = b"{" + b" " * (30 * 1024**2) + b"}"
        declared = client.post(
            "/api/users", content=big, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413, declared.text
        assert "exceeds" in declared.json()["detail"]

        def chunks() -> Iterator[bytes]:
            for _ in range(64):
                yield b" " * (64 * 1024)

        streamed = client.post(
            "/api/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413, streamed.text
        # A small body goes on to the usual refusal.
        assert client.post("/api/users", json={}).status_code == 401


def test_a_login_flood_gets_429_and_another_client_still_signs_in(
    server: str, staff: Staff
) -> None:
    with _client(server, "127.0.0.1") as flood:
        statuses = [_login(flood, "officer1", WRONG).status_code for _ in range(8)]
    assert statuses[:4] == [401] * 4
    assert set(statuses[4:]) == {429}
    with _client(server, "127.0.0.2") as flood:
        refused = _login(flood, "viewer1", WRONG)
    assert refused.status_code == 401
    with _client(server, "127.0.0.3") as other:
        signed_in = _login(other, "viewer1", PASSWORD)
        assert signed_in.status_code == 200, signed_in.text
    with _client(server, "127.0.0.1") as flood:
        again = _login(flood, "viewer1", PASSWORD)
        assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1


def test_sign_ins_at_once_are_bounded(server: str, staff: Staff) -> None:
    def attempt(i: int) -> httpx.Response:
        with _client(server, f"127.0.1.{i}") as client:
            return _login(client, "viewer1", PASSWORD)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(1, 9)))
    statuses = [r.status_code for r in results]
    assert 503 in statuses and 200 in statuses, statuses
    assert all(r.headers["retry-after"] == "1" for r in results if r.status_code == 503)


def test_uvicorn_concurrency_is_bounded_by_settings(ctx: AppContext) -> None:
    daemon = WebDaemon(ctx)
    config = daemon._server.config
    server = ctx.settings.server
    assert config.limit_concurrency == server.limit_concurrency == 200
    assert config.backlog == server.backlog
    assert config.timeout_keep_alive == server.timeout_keep_alive_s
