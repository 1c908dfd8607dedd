"""Upload routes do their database work off the event loop (issue 13, finding 8).

The document routes read their multipart body asynchronously, then store the document: a
database transaction with a ledger entry. Run on the event loop, that work would stall every
other request while it waits, here for the ledger's tip row, which the test holds locked as a
long ledger write would. ``/api/health`` must still answer while the upload waits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from api.security import CSRF_HEADER
from appliance.access import AccessService, Principal, Scope
from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.models import Role
from tests.support.config import SettingsFactory
from tests.support.users import PASSWORD

PDF = b"%PDF-1.4 power of attorney"
HOUR_MS = 3_600_000


def _wait_for_a_lock_waiter(conn: psycopg.Connection[tuple[int]]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        if row is not None and row[0] >= 1:
            return
        time.sleep(0.05)
    raise AssertionError("the upload never reached the ledger")


@pytest.mark.postgres
@pytest.mark.parametrize("route", ["officer_document", "agency_submission"])
def test_health_answers_while_an_upload_waits_for_the_database(
    make_settings: SettingsFactory, clock: FakeClock, pg_url: str, route: str
) -> None:
    settings = make_settings(database={"url": pg_url})
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    try:
        app = create_app(ctx)
        access: AccessService = app.state.access
        root = Principal.local("root")
        now = clock.now_ms()
        with TestClient(app) as client:
            upload: Callable[[], Response]
            if route == "officer_document":
                access.create_user(
                    root,
                    username="officer1",
                    role=Role.officer,
                    display_name="O",
                    password=PASSWORD,
                )
                login = client.post(
                    "/api/auth/login", json={"username": "officer1", "password": PASSWORD}
                )
                assert login.status_code == 200, login.text
                client.headers[CSRF_HEADER] = login.json()["csrf_token"]
                created = client.post("/api/requests", json={
                    "kind": "viewing", "requester_kind": "delegate", "requester_name": "김대리",
                    "camera_ids": ["cam01"], "start_ms": now - HOUR_MS, "end_ms": now})  # fmt: skip
                assert created.status_code == 201, created.text
                path = f"/api/requests/{created.json()['id']}/documents"

                def upload() -> Response:
                    response: Response = client.post(
                        path, data={"kind": "power_of_attorney"},
                        files={"file": ("위임장.pdf", PDF, "application/pdf")},
                    )  # fmt: skip
                    return response
            else:
                agency, _ = access.create_user(
                    root, username="agency1", role=Role.agency, display_name="A", password=PASSWORD
                )
                token = access.issue_token(
                    root, agency.id or 0, name="t", scopes=[Scope.requests_write], ttl_days=1
                ).token
                payload = {
                    "kind": "copy", "requester_kind": "police", "requester_name": "경위 박수사",
                    "requester_org": "서울강남경찰서", "letter_reference": "수사과-1",
                    "legal_basis": "형사소송법 제199조", "purpose": "수사", "camera_ids": ["cam01"],
                    "start_ms": now - HOUR_MS, "end_ms": now - HOUR_MS + 2000,
                }  # fmt: skip

                def upload() -> Response:
                    response: Response = client.post(
                        "/api/agency/requests",
                        headers={"Authorization": f"Bearer {token}"},
                        data={"request": json.dumps(payload)},
                        files={"letter": ("공문.pdf", PDF, "application/pdf")},
                    )
                    return response

            dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
            with (
                psycopg.connect(dsn) as holder,
                psycopg.connect(dsn, autocommit=True) as watcher,
                ThreadPoolExecutor(2) as pool,
            ):
                holder.execute("SELECT seq FROM ledger_tip WHERE id = 1 FOR UPDATE")
                try:
                    stored = pool.submit(upload)
                    _wait_for_a_lock_waiter(watcher)  # the upload waits for the ledger
                    started = time.monotonic()
                    health = pool.submit(client.get, "/api/health")
                    answered = health.result(timeout=30) if _done_within(health, 10) else None
                    elapsed = time.monotonic() - started
                    assert answered is not None and answered.status_code == 200, (
                        f"/api/health did not answer in {elapsed:.1f} s while an upload waited"
                    )
                    assert not stored.done()  # it really was waiting all along
                finally:
                    holder.rollback()
                assert stored.result(timeout=60).status_code == 201
    finally:
        ctx.close()


def _done_within(future: Future[Response], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if future.done():
            return True
        time.sleep(0.02)
    return False
