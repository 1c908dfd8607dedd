"""The request desk without a browser (issue 14): the agency API's additions (cameras,
withdrawal, documents, status changes to poll), an agency request on the officer's list and
home page at once, the pages' roles and languages, and the request page's history from the
ledger."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.web import translations
from appliance.access import Principal, Scope
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import Role
from tests.support.astronaut import astronaut_clip, store_segment
from tests.support.users import Login, Staff

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
HOUR_MS = 3_600_000
KO = translations("ko")
EN = translations("en")


def _agency(app: FastAPI, token: str) -> TestClient:
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _submit(client: TestClient, start_ms: int) -> Any:
    payload = {
        "kind": "copy",
        "requester_kind": "police",
        "requester_name": "경위 박수사",
        "requester_org": "서울강남경찰서",
        "letter_reference": "강남서 수사과-1234",
        "purpose": "절도 사건 수사",
        "camera_ids": ["cam01"],
        "start_ms": start_ms,
        "end_ms": start_ms + 2000,
    }
    return client.post(
        "/api/agency/requests",
        data={"request": json.dumps(payload)},
        files={"letter": ("공문.pdf", b"%PDF-1.4 official letter", "application/pdf")},
    )


def test_an_agency_lists_cameras_follows_adds_a_document_and_withdraws(
    app: FastAPI, ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    agency = _agency(app, staff.agency_token)
    cameras = _ok(agency.get("/api/agency/cameras"))
    assert {c["id"] for c in cameras} >= {"cam01"}
    assert set(cameras[0]) == {"id", "name", "location"}  # no stream, no status

    rid = _ok(_submit(agency, clock.now_ms() - HOUR_MS), 201)["id"]
    events = _ok(agency.get(f"/api/agency/requests/{rid}/events"))
    assert [(e["state"], e["action"]) for e in events] == [("received", "receive")]
    last = events[-1]["seq"]
    assert _ok(agency.get(f"/api/agency/requests/{rid}/events?since={last}")) == []

    officer = login("officer1")
    _ok(officer.post(f"/api/requests/{rid}/identity",
                     json={"id_document": "공문", "checked_by": "officer1"}))  # fmt: skip
    changes = _ok(agency.get(f"/api/agency/requests/{rid}/events?since={last}"))
    assert [(e["state"], e["action"]) for e in changes] == [
        ("identity_verified", "verify_identity")
    ]
    assert changes[0]["seq"] > last and "actor" not in changes[0]

    added = _ok(
        agency.post(
            f"/api/agency/requests/{rid}/documents",
            files={"file": ("보정공문.pdf", b"%PDF-1.4 corrected", "application/pdf")},
        ),
        201,
    )
    assert added["kind"] == "official_letter" and added["uploaded_by"].startswith("agency")
    kinds = [d["kind"] for d in _ok(officer.get(f"/api/requests/{rid}/documents"))]
    assert kinds == ["official_letter", "official_letter"]

    withdrawn = _ok(agency.post(f"/api/agency/requests/{rid}/withdraw", json={"note": "취하"}))
    assert withdrawn["state"] == "closed"
    final = _ok(agency.get(f"/api/agency/requests/{rid}/events?since={changes[0]['seq']}"))
    assert [(e["state"], e["action"], e["decision"]) for e in final] == [
        ("closed", "withdraw", "withdrawn")
    ]
    # Closed: no more documents, no second withdrawal.
    again = agency.post(
        f"/api/agency/requests/{rid}/documents",
        files={"file": ("x.pdf", b"%PDF-1.4 test", "application/pdf")},
    )
    assert again.status_code == 409
    withdraw = f"/api/agency/requests/{rid}/withdraw"
    assert agency.post(withdraw, json={"note": "x"}).status_code == 409
    entries = ctx.ledger.entries(refs=[str(rid)], events=[EventType.document_attached])
    assert len(entries) == 2


def test_another_agencys_request_is_not_found(
    app: FastAPI, access: Any, clock: FakeClock, staff: Staff
) -> None:
    root = Principal.local("root")
    other, _ = access.create_user(
        root, username="agency2", role=Role.agency, display_name="B", password="x" * 12
    )
    token = access.issue_token(
        root, other.id, name="t", scopes=[Scope.requests_read, Scope.requests_write], ttl_days=1
    ).token
    rid = _ok(_submit(_agency(app, staff.agency_token), clock.now_ms() - HOUR_MS), 201)["id"]
    second = _agency(app, token)
    assert second.get(f"/api/agency/requests/{rid}/events").status_code == 404
    withdraw = f"/api/agency/requests/{rid}/withdraw"
    assert second.post(withdraw, json={"note": "x"}).status_code == 404
    assert (
        second.post(
            f"/api/agency/requests/{rid}/documents",
            files={"file": ("x.pdf", b"%PDF-1.4 test", "application/pdf")},
        ).status_code
        == 404
    )


def test_an_agency_request_is_on_the_desk_at_once(
    app: FastAPI, clock: FakeClock, staff: Staff, login: Login
) -> None:
    rid = _ok(_submit(_agency(app, staff.agency_token), clock.now_ms() - HOUR_MS), 201)["id"]
    officer = login("officer1")
    home = officer.get("/", headers=HTML)
    assert home.status_code == 200
    assert 'id="home-agency-notice"' in home.text and f'href="/requests/{rid}"' in home.text
    listed = officer.get("/requests", headers=HTML)
    assert listed.status_code == 200
    assert f'data-id="{rid}"' in listed.text and 'id="agency-notice"' in listed.text
    assert KO["desk.left.days"].replace("{n}", "10") in listed.text
    # Identity checked: no longer new.
    _ok(officer.post(f"/api/requests/{rid}/identity",
                     json={"id_document": "공문", "checked_by": "officer1"}))  # fmt: skip
    assert 'id="home-agency-notice"' not in officer.get("/", headers=HTML).text


def test_pages_by_role_and_language(
    app: FastAPI, ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    now = clock.now_ms()
    store_segment(ctx, "cam01", now - 2 * HOUR_MS, astronaut_clip(1))
    officer = login("officer1")
    rid = _ok(
        officer.post(
            "/api/requests",
            json={
                "kind": "viewing",
                "requester_kind": "subject",
                "requester_name": "김민수",
                "purpose": "로비에서 지갑을 도난당함",
                "camera_ids": ["cam01"],
                "start_ms": now - 2 * HOUR_MS,
                "end_ms": now - 2 * HOUR_MS + 1000,
            },
        ),
        201,
    )["id"]
    for path in ("/requests", "/requests/new", "/requests/form", f"/requests/{rid}"):
        page = officer.get(path, headers=HTML)
        assert page.status_code == 200, (path, page.text[:300])
        assert "default-src 'self'" in page.headers["content-security-policy"]
    detail = officer.get(f"/requests/{rid}", headers=HTML).text
    assert 'id="identity-form"' in detail and 'id="police-first"' in detail
    assert f'href="/requests/{rid}/mask"' in detail
    history = [e.seq for e in ctx.ledger.entries(refs=[str(rid)])]
    assert f'data-seq="{history[0]}"' in detail  # the receipt, with its ledger seq
    form = officer.get("/requests/form", headers=HTML).text
    assert "열람신청서" in form and ctx.settings.site.officer.phone in form

    english = officer.get(f"/requests/{rid}?lang=en", headers=HTML).text
    assert EN["desk.detail.identity"] in english and EN["desk.next.identity"] in english

    auditor = login("auditor1")
    read_only = auditor.get(f"/requests/{rid}", headers=HTML)
    assert read_only.status_code == 200
    assert 'class="desk-action"' not in read_only.text and "identity-form" not in read_only.text
    assert auditor.get("/requests", headers=HTML).status_code == 200
    refused = auditor.get("/requests/new", headers=HTML, follow_redirects=False)
    assert refused.headers["location"] == "/?denied=1"
    assert auditor.get("/requests/new").status_code == 403
    viewer = login("viewer1")
    refused = viewer.get("/requests", headers=HTML, follow_redirects=False)
    assert refused.headers["location"] == "/?denied=1"
    assert 'id="desk-summary"' not in viewer.get("/", headers=HTML).text
    bearer = {"Authorization": f"Bearer {staff.agency_token}"}
    anonymous = TestClient(app, follow_redirects=False)
    assert anonymous.get("/requests", headers={**bearer, **HTML}).status_code == 403
    assert anonymous.get("/requests", headers=HTML).status_code == 303


def test_bad_filters_are_shown_not_a_500(staff: Staff, login: Login) -> None:
    officer = login("officer1")
    for query in ("state=nope", "from=2025-13-01", "kind=x", "requester_kind=y"):
        page = officer.get(f"/requests?{query}", headers=HTML)
        assert page.status_code == 200 and 'id="desk-error"' in page.text, query
    assert 'id="desk-error"' not in officer.get("/requests?closed=true&q=%23", headers=HTML).text
