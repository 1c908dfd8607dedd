"""Issue 13, findings 2 and 7, through the HTTP API: an agency request is bounded in scope (422
with the reason) and rate (429), the officer narrows or releases a request's hold (never widens
it) and the purge then destroys what left it, and reading or attaching a document is ledgered
before anything is shown."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import col, select

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import Segment
from appliance.retention import Retention
from appliance.settings import Settings
from tests.support.config import SettingsFactory
from tests.support.segments import MINUTE_MS, make_segments
from tests.support.users import Login, Staff

HOUR_MS = 3_600_000
DAY_MS = 86_400_000


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(
        requests={"agency_per_hour": 3, "agency_max_open": 5, "agency_max_cameras": 2}
    )


def _agency(app: FastAPI, token: str) -> TestClient:
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _submit(client: TestClient, cameras: list[str], start_ms: int, end_ms: int) -> Any:
    payload = {
        "kind": "copy",
        "requester_kind": "police",
        "requester_name": "경위 박수사",
        "requester_org": "서울강남경찰서",
        "letter_reference": "강남서 수사과-1234",
        "purpose": "절도 사건 수사",
        "camera_ids": cameras,
        "start_ms": start_ms,
        "end_ms": end_ms,
    }
    return client.post(
        "/api/agency/requests",
        data={"request": json.dumps(payload)},
        files={"letter": ("공문.pdf", b"%PDF-1.4 official letter", "application/pdf")},
    )


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_an_agency_request_beyond_the_scope_limits_is_refused_with_the_reason(
    app: FastAPI, clock: FakeClock, staff: Staff
) -> None:
    agency = _agency(app, staff.agency_token)
    now = clock.now_ms()
    # Three cameras where two are allowed.
    many = _submit(agency, ["cam01", "cam02", "cam03"], now - HOUR_MS, now)
    assert many.status_code == 422 and "at most 2 cameras" in many.json()["detail"]
    # From 1970 to now: longer than 24 h.
    whole = _submit(agency, ["cam01"], 0, now)
    assert whole.status_code == 422 and "at most 24 h" in whole.json()["detail"]
    # One hour, but 31 days ago: the general group keeps 30 days, so it cannot exist.
    old = _submit(agency, ["cam01"], now - 31 * DAY_MS, now - 31 * DAY_MS + HOUR_MS)
    assert old.status_code == 422 and "older than 30 days" in old.json()["detail"]
    # Within every limit: accepted, and the refused ones held nothing.
    _ok(_submit(agency, ["cam01", "cam02"], now - 24 * HOUR_MS, now), 201)
    assert len(_ok(agency.get("/api/agency/requests"))) == 1


def test_the_submission_past_the_hourly_budget_gets_429(
    app: FastAPI, clock: FakeClock, staff: Staff
) -> None:
    agency = _agency(app, staff.agency_token)
    for _ in range(3):
        now = clock.now_ms()
        _ok(_submit(agency, ["cam01"], now - HOUR_MS, now), 201)
        clock.advance(timedelta(minutes=10))
    now = clock.now_ms()
    fourth = _submit(agency, ["cam01"], now - HOUR_MS, now)
    assert fourth.status_code == 429, fourth.text
    assert "3 requests in the last hour" in fourth.json()["detail"]
    # The first one leaves the window 60 min after it was made, i.e. in 30 min from now.
    assert int(fourth.headers["Retry-After"]) == 30 * 60
    assert len(_ok(agency.get("/api/agency/requests"))) == 3
    clock.advance(timedelta(minutes=31))
    now = clock.now_ms()
    _ok(_submit(agency, ["cam01"], now - HOUR_MS, now), 201)


def test_open_requests_are_capped_per_agency(app: FastAPI, clock: FakeClock, staff: Staff) -> None:
    agency = _agency(app, staff.agency_token)
    for _ in range(5):
        now = clock.now_ms()
        _ok(_submit(agency, ["cam01"], now - HOUR_MS, now), 201)
        clock.advance(timedelta(hours=1))
    now = clock.now_ms()
    sixth = _submit(agency, ["cam01"], now - HOUR_MS, now)
    assert sixth.status_code == 429 and "5 open requests" in sixth.json()["detail"]


def _officer_request(login: Login, now: int, cameras: list[str], start: int, end: int) -> Any:
    officer = login("officer1")
    body = {
        "kind": "viewing",
        "requester_kind": "subject",
        "requester_name": "홍길동",
        "camera_ids": cameras,
        "start_ms": start,
        "end_ms": end,
    }
    return officer, _ok(officer.post("/api/requests", json=body), 201)


def test_a_narrowed_hold_lets_the_purge_destroy_what_left_it(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    now = clock.now_ms()
    t0 = now - 4 * HOUR_MS
    starts = [t0 + i * 30 * MINUTE_MS for i in range(6)]  # t0 .. t0 + 2.5 h, one minute each
    for camera in ("cam01", "cam02"):
        make_segments(ctx, camera, starts)
    officer, request = _officer_request(login, now, ["cam01", "cam02"], t0, t0 + 3 * HOUR_MS)
    rid = request["id"]
    hold = _ok(officer.get(f"/api/requests/{rid}/hold"))
    assert hold["camera_ids"] == ["cam01", "cam02"] and hold["active"]

    keep_from, keep_to = t0 + HOUR_MS, t0 + 90 * MINUTE_MS
    narrowed = _ok(
        officer.post(
            f"/api/requests/{rid}/hold/narrow",
            json={
                "camera_ids": ["cam01"],
                "start_ms": keep_from,
                "end_ms": keep_to,
                "reason": "공문에 적힌 시간대만 필요",
            },
        )
    )
    assert narrowed["camera_ids"] == ["cam01"]
    assert (narrowed["start_ms"], narrowed["end_ms"]) == (keep_from, keep_to)
    entries = ctx.ledger.entries(refs=[str(hold["id"])], events=[EventType.hold_narrowed])
    assert len(entries) == 1 and entries[0].actor == "officer1"
    assert entries[0].data["reason"] == "공문에 적힌 시간대만 필요"
    assert entries[0].data["previous"]["cameras"] == ["cam01", "cam02"]

    clock.advance(timedelta(days=31))  # everything is past the general group's 30 days
    Retention(ctx).run_cycle()
    with ctx.db.session() as session:
        left = session.exec(select(Segment).order_by(col(Segment.start_ms))).all()
    # Only cam01's segments touching [t0 + 1 h, t0 + 1.5 h] remain.
    assert [(s.camera_id, s.start_ms) for s in left] == [
        ("cam01", t0 + HOUR_MS),
        ("cam01", t0 + 90 * MINUTE_MS),
    ]


def test_a_narrowing_that_would_extend_the_hold_is_refused(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login, app: FastAPI
) -> None:
    now = clock.now_ms()
    t0 = now - 4 * HOUR_MS
    officer, request = _officer_request(login, now, ["cam01"], t0, t0 + HOUR_MS)
    rid = request["id"]
    narrow = f"/api/requests/{rid}/hold/narrow"
    wider: list[dict[str, Any]] = [
        {"camera_ids": ["cam01"], "start_ms": t0 - 1, "end_ms": t0 + HOUR_MS},  # earlier
        {"camera_ids": ["cam01"], "start_ms": t0, "end_ms": t0 + HOUR_MS + 1},  # later
        {"camera_ids": ["cam01", "cam02"], "start_ms": t0, "end_ms": t0 + 60_000},  # a camera
        {"camera_ids": ["cam01"], "start_ms": t0, "end_ms": t0 + HOUR_MS},  # the same
    ]
    for body in wider:
        refused = officer.post(narrow, json={**body, "reason": "x"})
        assert refused.status_code == 422, (body, refused.text)
    no_reason = {"camera_ids": ["cam01"], "start_ms": t0, "end_ms": t0 + 1, "reason": ""}
    assert officer.post(narrow, json=no_reason).status_code == 422
    hold = _ok(officer.get(f"/api/requests/{rid}/hold"))
    assert (hold["camera_ids"], hold["start_ms"], hold["end_ms"]) == (["cam01"], t0, t0 + HOUR_MS)
    assert ctx.ledger.entries(events=[EventType.hold_narrowed]) == []
    # Nobody but the officer changes a hold; the auditor reads it.
    auditor = login("auditor1")
    assert _ok(auditor.get(f"/api/requests/{rid}/hold"))["id"] == hold["id"]
    body = {"camera_ids": ["cam01"], "start_ms": t0, "end_ms": t0 + 1, "reason": "x"}
    assert auditor.post(narrow, json=body).status_code == 403
    assert login("admin1").post(narrow, json=body).status_code == 403
    agency = _agency(app, staff.agency_token)
    assert agency.post(f"/api/requests/{rid}/hold/release", json={"reason": "x"}).status_code == 403

    # Releasing an open request's hold needs a reason and is ledgered.
    assert officer.post(f"/api/requests/{rid}/hold/release", json={"reason": ""}).status_code == 422
    released = _ok(
        officer.post(f"/api/requests/{rid}/hold/release", json={"reason": "수사 종결 통보"})
    )
    assert not released["active"] and released["release_reason"] == "수사 종결 통보"
    entries = ctx.ledger.entries(refs=[str(hold["id"])], events=[EventType.hold_released])
    assert [e.data["reason"] for e in entries] == ["수사 종결 통보"]
    again = officer.post(f"/api/requests/{rid}/hold/release", json={"reason": "x"})
    assert again.status_code == 409


def test_reading_and_attaching_a_document_is_ledgered_and_fails_closed(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login, app: FastAPI
) -> None:
    now = clock.now_ms()
    agency = _agency(app, staff.agency_token)
    rid = _ok(_submit(agency, ["cam01"], now - HOUR_MS, now), 201)["id"]
    officer = login("officer1")
    body = b"%PDF-1.4 ID copy"
    attached = _ok(
        officer.post(
            f"/api/requests/{rid}/documents",
            data={"kind": "id_copy"},
            files={"file": ("신분증.pdf", body, "application/pdf")},
        ),
        201,
    )
    added = ctx.ledger.entries(refs=[str(rid)], events=[EventType.document_attached])
    # The letter came with the request, the ID copy after it.
    assert [e.data["document_id"] for e in added] == [attached["id"] - 1, attached["id"]]
    assert added[1].actor == "officer1" and added[1].data["filename"] == "신분증.pdf"

    read = officer.get(f"/api/requests/{rid}/documents/{attached['id']}")
    assert read.status_code == 200 and read.content == body
    reads = ctx.ledger.entries(refs=[str(rid)], events=[EventType.document_read])
    assert len(reads) == 1 and reads[0].actor == "officer1"
    assert reads[0].data["document_id"] == attached["id"]
    assert reads[0].data["sha256"] == attached["sha256_hex"]

    with ctx.db.engine.begin() as conn:  # a real broken ledger: no entry can be chained
        conn.execute(text("DELETE FROM ledger_tip"))
    refused = officer.get(f"/api/requests/{rid}/documents/{attached['id']}")
    assert refused.status_code == 503 and body not in refused.content
    upload = officer.post(
        f"/api/requests/{rid}/documents",
        data={"kind": "other"},
        files={"file": ("x.pdf", b"%PDF-1.4 x", "application/pdf")},
    )
    assert upload.status_code == 503
    listed = _ok(officer.get(f"/api/requests/{rid}/documents"))
    assert [d["id"] for d in listed] == [attached["id"] - 1, attached["id"]]
