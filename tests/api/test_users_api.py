"""Accounts, grants, tokens and the access-rights annex over HTTP, each change in the ledger."""

from __future__ import annotations

from sqlmodel import select

from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import Alarm
from tests.support.users import Login, Staff


def test_account_lifecycle_recorded(login: Login, staff: Staff, ctx: AppContext) -> None:
    admin = login("admin1")
    made = admin.post(
        "/api/users",
        json={
            "username": "nurse.kim",
            "display_name": "김간호",
            "role": "viewer",
            "department": "간호부",
            "title": "수간호사",
            "phone": "02-333-4444",
        },
    )
    assert made.status_code == 201, made.text
    user_id = made.json()["user"]["id"]
    assert admin.patch(f"/api/users/{user_id}", json={"title": "간호부장"}).json()["title"] == (
        "간호부장"
    )
    grants = admin.post(f"/api/users/{user_id}/grants", json={"add": ["cam02", "cam03"]})
    assert grants.json()["cameras"] == ["cam02", "cam03"]
    revoked = admin.post(f"/api/users/{user_id}/grants", json={"revoke": ["cam02"]})
    assert revoked.json()["cameras"] == ["cam03"]
    assert admin.post(f"/api/users/{user_id}/disable", json={"reason": "퇴사"}).json()["disabled"]
    events = [
        (e.event, e.data.get("username"))
        for e in ctx.ledger.entries(
            events=[
                EventType.user_created,
                EventType.user_changed,
                EventType.grant_changed,
                EventType.user_disabled,
            ],
            limit=None,
        )
        if e.data.get("username") == "nurse.kim"
    ]
    assert events == [
        ("user_created", "nurse.kim"),
        ("user_changed", "nurse.kim"),
        ("grant_changed", "nurse.kim"),
        ("grant_changed", "nurse.kim"),
        ("user_disabled", "nurse.kim"),
    ]


def test_annex_lists_department_title_name_contact(login: Login, staff: Staff) -> None:
    rows = login("auditor1").get("/api/users/annex").json()
    viewer = next(r for r in rows if r["name"] == "Viewer1")
    assert viewer == {
        "department": "원무과",
        "title": "팀장",
        "name": "Viewer1",
        "phone": "02-111-2222",
        "role": "viewer",
        "cameras": ["cam01"],
    }
    officer = next(r for r in rows if r["name"] == "Officer1")
    assert officer["cameras"] == ["*"]
    assert next(r for r in rows if r["name"] == "Auditor1")["cameras"] == []


def test_viewer_sees_only_granted_cameras(login: Login, staff: Staff) -> None:
    viewer = login("viewer1")
    assert [c["id"] for c in viewer.get("/api/cameras").json()] == ["cam01"]
    assert viewer.get("/api/cameras/cam02").status_code == 404
    officer = login("officer1")
    cams = officer.get("/api/cameras").json()
    assert [c["id"] for c in cams] == ["cam01", "cam02", "cam03"] and all(
        c["viewable"] for c in cams
    )
    auditor = login("auditor1")
    assert not any(c["viewable"] for c in auditor.get("/api/cameras").json())


def test_tokens_shown_once_and_revocable(login: Login, staff: Staff) -> None:
    admin = login("admin1")
    agency_id = staff.ids["agency1"]
    issued = admin.post(
        f"/api/users/{agency_id}/tokens",
        json={"name": "수사 2026-17", "scopes": ["requests:read"], "ttl_days": 7},
    )
    assert issued.status_code == 201, issued.text
    token, info = issued.json()["token"], issued.json()["info"]
    listed = admin.get(f"/api/users/{agency_id}/tokens").json()
    assert token not in str(listed) and any(t["id"] == info["id"] for t in listed)
    assert admin.delete(f"/api/users/{agency_id}/tokens/{info['id']}").json()["revoked_ms"]
    me = admin.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    wrong_owner = admin.delete(f"/api/users/{staff.ids['viewer1']}/tokens/{info['id']}")
    assert wrong_owner.status_code == 404
    viewer_token = admin.post(
        f"/api/users/{staff.ids['viewer1']}/tokens",
        json={"name": "x", "scopes": ["requests:read"], "ttl_days": 7},
    )
    assert viewer_token.status_code == 422


def test_admin_cannot_become_the_officer_over_http(
    login: Login, staff: Staff, ctx: AppContext
) -> None:
    """Issue 13, finding 1: every path from admin to officer is refused."""
    admin = login("admin1")
    officer_id, viewer_id = staff.ids["officer1"], staff.ids["viewer1"]
    for role in ("officer", "admin"):
        made = admin.post(
            "/api/users",
            json={"username": f"x{role}", "display_name": "X", "role": role, "password": "p" * 12},
        )
        assert made.status_code == 403, made.text
        assert admin.patch(f"/api/users/{viewer_id}", json={"role": role}).status_code == 403
    assert admin.patch(f"/api/users/{officer_id}", json={"role": "viewer"}).status_code == 403
    # The officer does assign the role, and a new officer raises an alarm.
    officer = login("officer1", csrf=True)
    changed = officer.patch(f"/api/users/{viewer_id}", json={"role": "officer"})
    assert changed.status_code == 200 and changed.json()["role"] == "officer"
    reset = admin.post(f"/api/users/{officer_id}/reset-password")
    assert reset.status_code == 200 and reset.json()["password"] is None
    assert admin.delete(f"/api/users/{officer_id}/totp").status_code == 403
    with ctx.db.session() as session:
        kinds = {(a.kind, a.subject) for a in session.exec(select(Alarm)).all()}
    assert ("privileged_account", f"user:{viewer_id}") in kinds
    assert ("privileged_reset", f"user:{officer_id}") in kinds
