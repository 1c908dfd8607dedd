"""Requests through the API with the fake clock (issue 7's "done when"): the full walk of an
on-site viewing, an overdue alarm, a refusal for destroyed footage, agency isolation, and an
agency's masked copy."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from appliance.access import AccessService, Principal, Scope
from appliance.alarms import AlarmKind
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.export.package import open_package, verify_package
from appliance.keys import load_verify_key
from appliance.ledger import EventType
from appliance.models import Alarm, Role
from appliance.requests import RequestService
from appliance.retention import Retention, get_hold
from appliance.settings import Settings
from tests.support.astronaut import (
    FACE_CENTRE,
    astronaut_clip,
    covers,
    decode_grey,
    find_faces,
    store_segment,
)
from tests.support.config import SettingsFactory
from tests.support.principals import OFFICER
from tests.support.users import Login, Staff

DAY = timedelta(days=1)
HOUR_MS = 3_600_000


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(requests={"export_kdf_strength": "interactive"})


def _officer(login: Login) -> TestClient:
    # A fresh session each time: moving the fake clock by days ends the previous one.
    return login("officer1")


def _agency(app: FastAPI, token: str) -> TestClient:
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _hold_active(ctx: AppContext, hold_id: int) -> bool:
    with ctx.db.session() as session:
        return get_hold(session, hold_id).active


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _built_export(officer: Any, rid: int) -> Any:
    """Queue an export (202), follow its job until done; the export with the job's extras."""
    queued = _ok(officer.post(f"/api/requests/{rid}/exports", json={}), 202)
    job = queued["job"]
    deadline = time.monotonic() + 120
    while job["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
        job = _ok(officer.get(f"/api/requests/{rid}/exports/jobs/{job['id']}"))
    assert job["state"] == "done", job
    return {
        **job["export"],
        "passphrase": queued["passphrase"],
        "passphrase_generated": queued["passphrase_generated"],
        "signer_fingerprint": job["signer_fingerprint"],
    }


def test_walk_received_held_decided_notified_viewed_closed_released(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    now = clock.now_ms()
    store_segment(ctx, "cam01", now - 2 * HOUR_MS, astronaut_clip(1))
    officer = _officer(login)
    request = _ok(
        officer.post(
            "/api/requests",
            json={
                "kind": "viewing",
                "requester_kind": "subject",
                "requester_name": "홍길동",
                "requester_contact": "010-1234-5678",
                "subject_description": "검은 외투, 오후 3시 로비 방문",
                "purpose": "분실물 확인",
                "camera_ids": ["cam01"],
                "start_ms": now - 2 * HOUR_MS,
                "end_ms": now - HOUR_MS,
            },
        ),
        201,
    )
    rid, hold_id = request["id"], request["hold_id"]
    assert request["state"] == "received" and request["deadline_status"] == "open"
    assert request["due_ms"] - now > 10 * 86_400_000 - 1  # the 10th day ends after 10 x 24 h
    assert hold_id is not None and _hold_active(ctx, hold_id)

    _ok(officer.post(f"/api/requests/{rid}/identity",
                     json={"id_document": "주민등록증", "checked_by": "officer1"}))  # fmt: skip
    clock.advance(3 * DAY)
    officer = _officer(login)
    assert _ok(officer.get(f"/api/requests/{rid}/proposal"))["decision"] == "accepted"
    viewing_ms = clock.now_ms() + 2 * 86_400_000
    decided = _ok(
        officer.post(
            f"/api/requests/{rid}/decision",
            json={
                "decision": "accepted",
                "viewing_ms": viewing_ms,
                "viewing_place": "본원 3층 회의실",
                "officer": "김보호",
            },
        )
    )
    assert decided["state"] == "decided"
    preview = officer.get(f"/api/requests/{rid}/notice-preview")
    assert preview.status_code == 200 and "본원 3층 회의실" in preview.text
    notice = _ok(officer.post(f"/api/requests/{rid}/notices", json={"channel": "mail"}), 201)
    page = officer.get(f"/api/requests/{rid}/notices/{notice['id']}")
    assert "개인영상정보 열람 결정 통지서" in page.text and "김보호" in page.text
    request = _ok(officer.get(f"/api/requests/{rid}"))
    assert request["state"] == "notified" and request["deadline_status"] == "met"
    assert request["notified_ms"] < request["due_ms"]  # decided and notified by day 10

    clock.set(clock.now() + 2 * DAY)
    officer = _officer(login)
    # Without the masked copy there is no on-site viewing (R-REQ-5): prepare it, show it.
    refused = officer.post(
        f"/api/requests/{rid}/onsite-viewing", json={"officer_present": "김보호"}
    )
    assert refused.status_code == 422 and "masked only" in refused.text
    copy = _built_export(officer, rid)
    viewed = _ok(
        officer.post(
            f"/api/requests/{rid}/onsite-viewing",
            json={"officer_present": "김보호", "witness": "이입회", "export_id": copy["id"]},
        )
    )
    assert viewed["state"] == "fulfilled" and viewed["fulfilment"] == "onsite_viewing"
    closed = _ok(officer.post(f"/api/requests/{rid}/close", json={"note": "열람 완료"}))
    assert closed["state"] == "closed"
    assert _hold_active(ctx, hold_id)  # kept for the grace period (time to object)

    clock.advance(ctx.settings.requests.hold_grace_days * DAY + timedelta(minutes=1))
    Retention(ctx).run_cycle()
    assert not _hold_active(ctx, hold_id)

    ours = {EventType.request_received.value, EventType.onsite_viewing.value}
    events = [e.event for e in ctx.ledger.entries(refs=[str(rid)], limit=None)]
    assert [e for e in events if e in ours] == ["request_received", "onsite_viewing"]
    (shown,) = ctx.ledger.entries(refs=[str(rid)], events=[EventType.onsite_viewing])
    assert shown.data["masking"] is True and shown.data["export_id"] == copy["id"]
    states = [
        e.data["state"]
        for e in ctx.ledger.entries(refs=[str(rid)], events=[EventType.request_state], limit=None)
    ]
    assert states == ["identity_verified", "decided", "notified", "fulfilled", "closed"]


def test_an_overdue_request_raises_its_alarm(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    now = clock.now_ms()
    rid = _ok(
        _officer(login).post(
            "/api/requests",
            json={
                "kind": "existence",
                "requester_kind": "subject",
                "requester_name": "김철수",
                "camera_ids": ["cam02"],
                "start_ms": now - HOUR_MS,
                "end_ms": now,
            },
        ),
        201,
    )["id"]
    service = RequestService(ctx)
    clock.advance(8 * DAY)
    assert [e.request.id for e in service.check_deadlines().due_soon] == [rid]
    clock.advance(3 * DAY)
    report = service.check_deadlines()
    assert [e.request.id for e in report.overdue] == [rid]
    with ctx.db.session() as session:
        alarms = session.exec(select(Alarm).where(Alarm.cleared_ms == None)).all()  # noqa: E711
    # Not counted here: the staff fixture's officer and admin raise their own alarms (issue
    # 13), and the fixture's `init --insecure-no-passphrase` raises keys_in_clear for good.
    others = (AlarmKind.privileged_account, AlarmKind.keys_in_clear)
    kinds = [(a.kind, a.subject) for a in alarms if a.kind not in others]
    assert kinds == [(AlarmKind.request_overdue, f"request:{rid}")]
    listing = _ok(_officer(login).get("/api/requests/deadlines"))
    assert [r["id"] for r in listing["overdue"]] == [rid] and listing["counts"]["overdue"] == 1
    # Deciding and notifying (late) clears it.
    officer = _officer(login)
    _ok(officer.post(f"/api/requests/{rid}/identity",
                     json={"id_document": "운전면허증", "checked_by": "officer1"}))  # fmt: skip
    _ok(officer.post(f"/api/requests/{rid}/decision", json={"decision": "accepted"}))
    _ok(officer.post(f"/api/requests/{rid}/notices", json={"channel": "phone"}), 201)
    assert _ok(officer.get(f"/api/requests/{rid}"))["deadline_status"] == "late"
    assert service.check_deadlines().overdue == []
    with ctx.db.session() as session:
        still = session.exec(select(Alarm).where(Alarm.cleared_ms == None)).all()  # noqa: E711
        assert [a.kind for a in still if a.kind != AlarmKind.privileged_account] == [
            AlarmKind.keys_in_clear
        ]


def test_a_request_for_destroyed_footage_is_refused_on_that_ground(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    old = clock.now_ms() - 40 * 86_400_000  # beyond the general group's 30 days
    store_segment(ctx, "cam01", old, astronaut_clip(1))
    Retention(ctx).run_cycle()  # destroyed, recorded in the destruction ledger
    officer = _officer(login)
    rid = _ok(
        officer.post(
            "/api/requests",
            json={
                "kind": "copy",
                "requester_kind": "representative",
                "requester_name": "이영희",
                "camera_ids": ["cam01"],
                "start_ms": old,
                "end_ms": old + 1000,
            },
        ),
        201,
    )["id"]
    _ok(officer.post(f"/api/requests/{rid}/identity",
                     json={"id_document": "가족관계증명서", "checked_by": "officer1"}))  # fmt: skip
    proposal = _ok(officer.get(f"/api/requests/{rid}/proposal"))
    assert proposal["decision"] == "refused" and proposal["ground"] == "destroyed"
    assert proposal["destruction_refs"]
    decided = _ok(
        officer.post(
            f"/api/requests/{rid}/decision",
            json={
                "decision": "refused",
                "ground": "destroyed",
                "reason": proposal["reason"],
                "destruction_refs": proposal["destruction_refs"],
            },
        )
    )
    assert decided["refusal_ground"] == "destroyed"
    notice = _ok(officer.post(f"/api/requests/{rid}/notices", json={"channel": "mail"}), 201)
    page = officer.get(f"/api/requests/{rid}/notices/{notice['id']}").text
    assert "거절 통지서" in page and "이미 파기됨" in page and "이의제기 방법" in page
    assert f"파기 기록 #{proposal['destruction_refs'][0]}" in page
    assert _ok(officer.post(f"/api/requests/{rid}/close", json={}))["state"] == "closed"
    # A refusal citing no destruction record is refused itself.
    rid2 = _ok(officer.post("/api/requests", json={
        "kind": "viewing", "requester_kind": "subject", "requester_name": "x",
        "camera_ids": ["cam01"], "start_ms": old, "end_ms": old + 1000}), 201)["id"]  # fmt: skip
    _ok(officer.post(f"/api/requests/{rid2}/identity",
                     json={"id_document": "여권", "checked_by": "officer1"}))  # fmt: skip
    refusal = {"decision": "refused", "ground": "destroyed", "reason": "x"}
    bad = officer.post(f"/api/requests/{rid2}/decision", json=refusal)
    assert bad.status_code == 422


def _submit(client: TestClient, camera: str, start_ms: int, kind: str = "copy") -> Any:
    payload = {
        "kind": kind,
        "requester_kind": "police",
        "requester_name": "경위 박수사",
        "requester_org": "서울강남경찰서",
        "letter_reference": "강남서 수사과-1234",
        "legal_basis": "형사소송법 제199조",
        "purpose": "절도 사건 수사",
        "camera_ids": [camera],
        "start_ms": start_ms,
        "end_ms": start_ms + 2000,
    }
    return client.post(
        "/api/agency/requests",
        data={"request": json.dumps(payload)},
        files={"letter": ("공문.pdf", b"%PDF-1.4 official letter", "application/pdf")},
    )


def test_an_agency_cannot_read_another_agencys_request(
    app: FastAPI, ctx: AppContext, clock: FakeClock, staff: Staff, access: AccessService
) -> None:
    root = Principal.local("root")
    other, _ = access.create_user(
        root, username="agency2", role=Role.agency, display_name="B", password="x" * 12
    )
    assert other.id is not None
    other_token = access.issue_token(
        root, other.id, name="b", scopes=[Scope.requests_read, Scope.requests_write], ttl_days=30
    ).token
    first = _agency(app, staff.agency_token)
    second = _agency(app, other_token)
    rid = _ok(_submit(first, "cam01", clock.now_ms() - HOUR_MS), 201)["id"]
    assert [r["id"] for r in _ok(first.get("/api/agency/requests"))] == [rid]
    assert _ok(second.get("/api/agency/requests")) == []
    for path in ("", "/notices", "/exports"):
        response = second.get(f"/api/agency/requests/{rid}{path}")
        assert response.status_code == 404, (path, response.text)
    # No footage, no staff routes, for any agency.
    for path in ("/api/cameras", "/api/viewing", f"/api/requests/{rid}", "/api/timeline/cam01"):
        assert first.get(path).status_code == 403, path
    # The letter is stored encrypted.
    documents = RequestService(ctx).documents(OFFICER, rid)
    assert len(documents) == 1 and documents[0].ciphertext is not None
    assert b"official letter" not in documents[0].ciphertext
    assert (
        RequestService(ctx)
        .read_document(OFFICER, rid, documents[0].id or 0)[1]
        .endswith(b"official letter")
    )


def test_an_agency_downloads_its_masked_copy(
    app: FastAPI,
    ctx: AppContext,
    clock: FakeClock,
    staff: Staff,
    login: Login,
    access: AccessService,
) -> None:
    start = clock.now_ms() - HOUR_MS
    store_segment(ctx, "cam01", start, astronaut_clip(2))
    agency = _agency(app, staff.agency_token)
    rid = _ok(_submit(agency, "cam01", start), 201)["id"]
    officer = _officer(login)
    check = {"id_document": "공문 (직인 확인)", "checked_by": "officer1"}
    _ok(officer.post(f"/api/requests/{rid}/identity", json=check))
    _ok(officer.post(f"/api/requests/{rid}/decision", json={"decision": "accepted"}))
    export = _built_export(officer, rid)
    assert export["passphrase_generated"] and export["masked_boxes"] > 0
    _ok(officer.post(f"/api/requests/{rid}/notices", json={"channel": "api"}), 201)

    notices = _ok(agency.get(f"/api/agency/requests/{rid}/notices"))
    page = agency.get(f"/api/agency/requests/{rid}/notices/{notices[0]['id']}").text
    assert "사본 교부 결정 통지서" in page and export["signer_fingerprint"] in page
    listed = _ok(agency.get(f"/api/agency/requests/{rid}/exports"))
    assert [e["id"] for e in listed] == [export["id"]]
    # The first token lacks exports:read.
    assert agency.get(f"/api/agency/requests/{rid}/exports/{export['id']}").status_code == 403
    token = access.issue_token(
        Principal.local("root"),
        staff.ids["agency1"],
        name="dl",
        scopes=[Scope.requests_read, Scope.exports_read],
        ttl_days=7,
    ).token
    download = _agency(app, token).get(f"/api/agency/requests/{rid}/exports/{export['id']}")
    assert download.status_code == 200
    data = download.content
    report = verify_package(
        data,
        passphrase=export["passphrase"],
        verify_key=load_verify_key(ctx.settings.storage.key_dir),
    )
    assert report.ok, report.failed
    assert report.files is None  # verify_package keeps no plaintext unless asked
    video = next(iter(open_package(data, export["passphrase"]).files.values()))
    frames = decode_grey(video)
    assert len(frames) == 50 and not any(covers(find_faces(f), FACE_CENTRE) for f in frames)
    request = _ok(agency.get(f"/api/agency/requests/{rid}"))
    assert request["state"] == "fulfilled" and request["fulfilment"] == "copy_handed_over"
    provisions = ctx.ledger.entries(refs=[str(rid)], events=[EventType.provision], limit=None)
    assert len(provisions) == 1 and provisions[0].data["recipient"].endswith("(서울강남경찰서)")
    created = ctx.ledger.entries(events=[EventType.export_created], limit=None)
    assert [e.ref for e in created] == [export["id"]]


def test_documents_are_uploaded_in_memory_and_stored_encrypted(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login, app: FastAPI
) -> None:
    now = clock.now_ms()
    officer = _officer(login)
    rid = _ok(officer.post("/api/requests", json={
        "kind": "viewing", "requester_kind": "delegate", "requester_name": "김대리",
        "camera_ids": ["cam01"], "start_ms": now - HOUR_MS, "end_ms": now}), 201)["id"]  # fmt: skip
    # Larger than the 1 MiB above which Starlette would spool an upload to a temp file.
    body = b"%PDF-1.4 power of attorney " + bytes(range(256)) * 8192
    created = _ok(
        officer.post(
            f"/api/requests/{rid}/documents",
            data={"kind": "power_of_attorney"},
            files={"file": ("위임장.pdf", body, "application/pdf")},
        ),
        201,
    )
    assert created["size_bytes"] == len(body) and created["kind"] == "power_of_attorney"
    read = officer.get(f"/api/requests/{rid}/documents/{created['id']}")
    assert read.status_code == 200 and read.content == body
    limit = ctx.settings.requests.max_document_bytes
    too_big = officer.post(
        f"/api/requests/{rid}/documents",
        data={"kind": "other"},
        files={"file": ("big.bin", b"x" * (limit + 300 * 1024), "application/octet-stream")},
    )
    assert too_big.status_code == 422
    missing = officer.post(f"/api/requests/{rid}/documents", data={"kind": "other"})
    assert missing.status_code == 422
    agency = _agency(app, staff.agency_token)
    no_letter = agency.post(
        "/api/agency/requests",
        data={
            "request": json.dumps(
                {
                    "kind": "copy",
                    "requester_kind": "police",
                    "requester_name": "x",
                    "letter_reference": "y",
                    "camera_ids": ["cam01"],
                    "start_ms": now - HOUR_MS,
                    "end_ms": now,
                }
            )
        },
    )
    assert no_letter.status_code == 422
