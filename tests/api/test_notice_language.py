"""The requester's language (issue 14): taken at receipt (API and model), and the notice is
previewed and issued in it: English where the requester reads English, Korean otherwise."""

from __future__ import annotations

from typing import Any

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType
from tests.support.astronaut import astronaut_clip, store_segment
from tests.support.users import Login, Staff

HOUR_MS = 3_600_000


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _received(officer: Any, clock: FakeClock, ctx: AppContext, **extra: Any) -> dict[str, Any]:
    clock.advance(60)
    start = clock.now_ms() - HOUR_MS
    store_segment(ctx, "cam01", start, astronaut_clip(1))
    body = {
        "kind": "viewing", "requester_kind": "subject", "requester_name": "John Smith",
        "camera_ids": ["cam01"], "start_ms": start, "end_ms": start + 1000, **extra,
    }  # fmt: skip
    return _ok(officer.post("/api/requests", json=body), 201)  # type: ignore[no-any-return]


def _decided(officer: Any, clock: FakeClock, rid: int) -> None:
    _ok(officer.post(f"/api/requests/{rid}/identity",
                     json={"id_document": "passport", "checked_by": "officer1"}))  # fmt: skip
    decision = {
        "decision": "accepted", "viewing_ms": clock.now_ms() + 24 * HOUR_MS,
        "viewing_place": "본원 3층 회의실", "officer": "김보호",
    }  # fmt: skip
    _ok(officer.post(f"/api/requests/{rid}/decision", json=decision))


def test_the_notice_is_in_the_requesters_language(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    officer = login("officer1")
    english = _received(officer, clock, ctx, requester_language="en")
    assert english["requester_language"] == "en"
    (entry,) = ctx.ledger.entries(refs=[str(english["id"])], events=[EventType.request_received])
    assert entry.data["requester_language"] == "en"
    _decided(officer, clock, english["id"])
    preview = officer.get(f"/api/requests/{english['id']}/notice-preview")
    assert preview.status_code == 200, preview.text
    assert '<html lang="en">' in preview.text
    assert "Notice of decision: viewing of personal video data" in preview.text
    assert "Viewing place" in preview.text and "본원 3층 회의실" in preview.text
    assert "통지서" not in preview.text
    notice = _ok(
        officer.post(f"/api/requests/{english['id']}/notices", json={"channel": "in_person"}),
        201,
    )
    printed = officer.get(f"/api/requests/{english['id']}/notices/{notice['id']}")
    assert printed.status_code == 200 and "Notice of decision" in printed.text

    # Korean by default, and only the two languages.
    korean = _received(officer, clock, ctx)
    assert korean["requester_language"] == "ko"
    _decided(officer, clock, korean["id"])
    preview = officer.get(f"/api/requests/{korean['id']}/notice-preview")
    assert '<html lang="ko">' in preview.text and "열람 결정 통지서" in preview.text
    refused = officer.post(
        "/api/requests",
        json={"kind": "viewing", "requester_kind": "subject", "requester_name": "X",
              "camera_ids": ["cam01"], "start_ms": 0, "end_ms": 1000,
              "requester_language": "fr"},
    )  # fmt: skip
    assert refused.status_code == 422
