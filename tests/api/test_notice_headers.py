"""Notices are served with the printable pages' strict headers (issue 13, finding 8).

A notice carries text typed by people (names, reasons); a missed escape must not be able to
run a script, load anything or frame the page: CSP ``default-src 'none'`` with inline style
only, ``nosniff`` and ``no-store``, on the officer's preview and notice and the agency's notice.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from appliance.clock import FakeClock
from tests.support.users import Login, Staff

HOUR_MS = 3_600_000


def _ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _assert_strict(response: Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    policy = [p.strip() for p in response.headers["content-security-policy"].split(";")]
    assert "default-src 'none'" in policy
    assert "style-src 'unsafe-inline'" in policy
    assert "frame-ancestors 'none'" in policy
    assert not any(p.startswith("script-src") for p in policy)  # no script at all
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_notice_pages_carry_a_strict_csp(
    app: FastAPI, clock: FakeClock, staff: Staff, login: Login
) -> None:
    agency = TestClient(app)
    agency.headers["Authorization"] = f"Bearer {staff.agency_token}"
    start = clock.now_ms() - HOUR_MS
    payload = {
        "kind": "copy",
        "requester_kind": "police",
        "requester_name": "경위 <script>alert(1)</script>",
        "requester_org": "서울강남경찰서",
        "letter_reference": "강남서 수사과-1234",
        "legal_basis": "형사소송법 제199조",
        "purpose": "절도 사건 수사",
        "camera_ids": ["cam01"],
        "start_ms": start,
        "end_ms": start + 2000,
    }
    submitted = agency.post(
        "/api/agency/requests",
        data={"request": json.dumps(payload)},
        files={"letter": ("공문.pdf", b"%PDF-1.4 official letter", "application/pdf")},
    )
    rid = _ok(submitted, 201)["id"]
    officer = login("officer1")
    check = {"id_document": "공문 (직인 확인)", "checked_by": "officer1"}
    _ok(officer.post(f"/api/requests/{rid}/identity", json=check))
    refusal = {"decision": "refused", "ground": "no_footage", "reason": "녹화 없음"}
    _ok(officer.post(f"/api/requests/{rid}/decision", json=refusal))
    _assert_strict(officer.get(f"/api/requests/{rid}/notice-preview"))
    notice = _ok(officer.post(f"/api/requests/{rid}/notices", json={"channel": "api"}), 201)
    page = officer.get(f"/api/requests/{rid}/notices/{notice['id']}")
    _assert_strict(page)
    assert "<script>" not in page.text
    _assert_strict(agency.get(f"/api/agency/requests/{rid}/notices/{notice['id']}"))
