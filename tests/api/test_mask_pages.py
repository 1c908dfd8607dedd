"""The mask editor's routes over HTTP: only the officer, frames only through a viewing session
opened for the request (its ledger entry first), stills with the detections, a masked
preview, and the room's refusal without a masked copy."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.settings import Settings
from tests.support.astronaut import FACE_CENTRE, astronaut_clip, decode_grey, store_segment
from tests.support.config import SettingsFactory
from tests.support.users import Login, Staff

HOUR_MS = 3_600_000
HTML = {"Accept": "text/html"}


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(requests={"export_kdf_strength": "interactive"})


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _request(officer: TestClient, start: int, *, decide: bool = True) -> int:
    rid: int = _ok(
        officer.post(
            "/api/requests",
            json={
                "kind": "viewing",
                "requester_kind": "subject",
                "requester_name": "홍길동",
                "camera_ids": ["cam01"],
                "start_ms": start,
                "end_ms": start + 2000,
            },
        ),
        201,
    )["id"]
    if decide:
        _ok(officer.post(f"/api/requests/{rid}/identity",
                         json={"id_document": "주민등록증", "checked_by": "officer1"}))  # fmt: skip
        _ok(
            officer.post(
                f"/api/requests/{rid}/decision",
                json={
                    "decision": "accepted",
                    "viewing_ms": start + 2 * HOUR_MS,
                    "viewing_place": "3층",
                    "officer": "김보호",
                },
            )
        )
    return rid


def test_frames_are_seen_through_a_ledgered_viewing_of_the_request(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    start = clock.now_ms() - HOUR_MS
    store_segment(ctx, "cam01", start, astronaut_clip(2))
    officer = login("officer1")
    rid = _request(officer, start)
    for user in ("viewer1", "auditor1"):
        other = login(user)
        assert other.post(f"/api/requests/{rid}/mask/viewing").status_code == 403
        assert other.get(f"/requests/{rid}/mask").status_code == 403
    page = officer.get(f"/requests/{rid}/mask", headers=HTML)
    assert page.status_code == 200 and 'id="mask-page"' in page.text

    # Stills need the request's own viewing session: no session, nothing shown.
    body = {"viewing_id": 1, "camera_id": "cam01", "count": 4}
    assert officer.post(f"/api/requests/{rid}/mask/stills", json=body).status_code == 404
    scope = _ok(officer.post(f"/api/requests/{rid}/mask/viewing"), 201)
    (opened,) = ctx.ledger.entries(
        events=[EventType.view_recorded_start], refs=[f"view:{scope['viewing_id']}"]
    )
    assert opened.data["request_id"] == str(rid) and opened.data["masking"] is False
    body["viewing_id"] = scope["viewing_id"]
    stills = _ok(officer.post(f"/api/requests/{rid}/mask/stills", json=body))
    assert len(stills) == 4
    assert [s["span_start_ms"] for s in stills] == [start, start + 500, start + 1000, start + 1500]
    first = stills[0]
    assert first["image"].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(first["image"].split(",", 1)[1])[:2] == b"\xff\xd8"
    fx, fy = FACE_CENTRE[0] / first["width"], FACE_CENTRE[1] / first["height"]
    faces = [d for d in first["detections"] if d["kind"] == "face"]
    assert any(d["x"] <= fx <= d["x"] + d["w"] and d["y"] <= fy <= d["y"] + d["h"] for d in faces)
    # Another request's page cannot use this session.
    other_rid = _request(officer, start)
    wrong = officer.post(f"/api/requests/{other_rid}/mask/stills", json=body)
    assert wrong.status_code == 404

    # A preview: a few seconds masked as the plan says (the drawn area obscured).
    preview = officer.post(
        f"/api/requests/{rid}/mask/preview",
        json={
            "viewing_id": scope["viewing_id"],
            "camera_id": "cam01",
            "start_ms": start,
            "seconds": 1,
            "faces": False,
            "people": False,
            "regions": [{"x": 0.5, "y": 0.5, "w": 0.4, "h": 0.4, "camera_id": "cam01"}],
        },
    )
    assert preview.status_code == 200 and preview.headers["content-type"] == "video/mp4"
    frames = decode_grey(preview.content)
    assert 20 <= len(frames) <= 26
    assert preview.headers["cache-control"] == "no-store"


def test_no_mask_before_the_decision_and_no_room_without_a_copy(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    start = clock.now_ms() - HOUR_MS
    store_segment(ctx, "cam01", start, astronaut_clip(1))
    officer = login("officer1")
    undecided = _request(officer, start, decide=False)
    refused = officer.post(f"/api/requests/{undecided}/mask/viewing")
    assert refused.status_code == 409 and "accepted decision" in refused.text
    page = officer.get(f"/requests/{undecided}/mask", headers=HTML)
    assert 'id="mask-refusal"' in page.text and 'id="mask-build"' not in page.text
    assert not ctx.ledger.entries(events=[EventType.view_recorded_start])

    rid = _request(officer, start)
    _ok(officer.post(f"/api/requests/{rid}/notices", json={"channel": "in_person"}), 201)
    room = officer.get(f"/requests/{rid}/viewing-room", headers=HTML)
    assert 'id="room-refusal"' in room.text and "no masked copy" in room.text
    assert 'id="room-start"' not in room.text
