"""Sign-in over HTTP: cookie attributes, CSRF, expiry, lockout, TOTP, password change, tokens."""

from __future__ import annotations

from typing import assert_never

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import COOKIE_NAME, CSRF_HEADER
from appliance.access import AccessService, Principal, totp
from appliance.access.refusals import LoginRefusal
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import AuthenticationFailed
from appliance.ledger import EventType
from appliance.models import Role
from appliance.settings import ServerConfig
from tests.support.users import PASSWORD, Login, Staff

_UNTOLD = "invalid username, password or TOTP code"

# What the HTTP client sees for each refusal: these texts are what the login page reads.
# One uniform refusal (issue 13): "locked" probed usernames, the TOTP and agency refusals
# confirmed the password.
SHOWN: dict[LoginRefusal, tuple[int, str]] = {
    LoginRefusal.unknown_user: (401, _UNTOLD),
    LoginRefusal.account_disabled: (401, _UNTOLD),
    LoginRefusal.wrong_password: (401, _UNTOLD),
    LoginRefusal.account_locked: (401, _UNTOLD),
    LoginRefusal.agency_account: (401, _UNTOLD),
    LoginRefusal.totp_required: (401, _UNTOLD),
    LoginRefusal.wrong_totp: (401, _UNTOLD),
}


def test_login_sets_a_strict_httponly_cookie(app: FastAPI, staff: Staff) -> None:
    with TestClient(app) as client:
        response = client.post(
            "/api/auth/login", json={"username": "viewer1", "password": PASSWORD}
        )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # no TLS configured in the tests
    body = response.json()
    assert body["user"]["username"] == "viewer1" and body["cameras"] == ["cam01"]
    assert body["csrf_token"] and body["via"] == "session"
    assert "password_hash" not in response.text


def test_cookie_is_secure_behind_tls(ctx: AppContext, staff: Staff) -> None:
    ctx.settings = ctx.settings.model_copy(update={"server": ServerConfig(cookie_secure=True)})
    with TestClient(create_app(ctx)) as client:
        response = client.post(
            "/api/auth/login", json={"username": "viewer1", "password": PASSWORD}
        )
    assert "Secure" in response.headers["set-cookie"]


def test_csrf_rejection(login: Login, staff: Staff) -> None:
    client = login("admin1", csrf=False)
    assert client.get("/api/users").status_code == 200  # reads need no token
    refused = client.post(
        "/api/users", json={"username": "x1", "display_name": "X", "role": "viewer"}
    )
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    forged = client.post(
        "/api/users",
        json={"username": "x1", "display_name": "X", "role": "viewer"},
        headers={CSRF_HEADER: "forged"},
    )
    assert forged.status_code == 403
    token = client.get("/api/auth/me").json()["csrf_token"]
    made = client.post(
        "/api/users",
        json={"username": "x1", "display_name": "X", "role": "viewer"},
        headers={CSRF_HEADER: token},
    )
    assert made.status_code == 201, made.text
    assert made.json()["generated_password"]


def test_anonymous_gets_401_with_reason(anonymous: TestClient) -> None:
    response = anonymous.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "not signed in", "error": "AuthenticationFailed"}


def test_session_idle_expiry_over_http(
    login: Login, staff: Staff, clock: FakeClock, ctx: AppContext
) -> None:
    client = login("officer1")
    clock.advance(ctx.settings.server.session_idle_s - 5)
    assert client.get("/api/auth/me").status_code == 200
    clock.advance(ctx.settings.server.session_idle_s + 1)
    response = client.get("/api/auth/me")
    assert response.status_code == 401 and "idle" in response.json()["detail"]


def test_session_absolute_expiry_over_http(
    login: Login, staff: Staff, clock: FakeClock, ctx: AppContext
) -> None:
    client = login("officer1")
    step = ctx.settings.server.session_idle_s - 10
    elapsed = 0
    while elapsed + step < ctx.settings.server.session_absolute_s:
        clock.advance(step)
        elapsed += step
        assert client.get("/api/auth/me").status_code == 200
    clock.advance(step)
    response = client.get("/api/auth/me")
    assert response.status_code == 401 and "absolute" in response.json()["detail"]


def test_logout_ends_the_session(login: Login, staff: Staff, ctx: AppContext) -> None:
    client = login("auditor1")
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/auth/me").status_code == 401
    assert [e.data["username"] for e in ctx.ledger.entries(events=[EventType.logout])] == [
        "auditor1"
    ]


def test_lockout_over_http(app: FastAPI, staff: Staff, clock: FakeClock) -> None:
    with TestClient(app) as client:
        for _ in range(5):
            bad = client.post("/api/auth/login", json={"username": "viewer1", "password": "nope"})
            assert bad.status_code == 401
            assert bad.json()["detail"] == _UNTOLD
        locked = client.post("/api/auth/login", json={"username": "viewer1", "password": PASSWORD})
        assert locked.status_code == 401 and locked.json()["detail"] == _UNTOLD
        clock.advance(31)
        ok = client.post("/api/auth/login", json={"username": "viewer1", "password": PASSWORD})
        assert ok.status_code == 200


def test_totp_over_http(login: Login, staff: Staff, clock: FakeClock, app: FastAPI) -> None:
    client = login("officer1")
    setup = client.post("/api/auth/totp/setup").json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/")
    code = totp.totp(setup["secret"], clock.now_ms())
    assert client.post("/api/auth/totp/confirm", json={"code": code}).status_code == 200
    clock.advance(30)
    with TestClient(app) as other:
        need = other.post("/api/auth/login", json={"username": "officer1", "password": PASSWORD})
        assert need.status_code == 401 and need.json()["detail"] == _UNTOLD
        ok = other.post(
            "/api/auth/login",
            json={
                "username": "officer1",
                "password": PASSWORD,
                "totp_code": totp.totp(setup["secret"], clock.now_ms()),
            },
        )
        assert ok.status_code == 200


def test_generated_password_must_be_changed_first(
    app: FastAPI, ctx: AppContext, login: Login
) -> None:
    # `appliance init` made "admin" with a generated password; reset it to learn it.
    access = app.state.access
    admin_id = access.user_id_by_name("admin")
    password = access.reset_password(Principal.local("root"), admin_id)
    client = login("admin", password)
    blocked = client.get("/api/users")
    assert blocked.status_code == 403 and "change your password" in blocked.json()["detail"]
    assert client.get("/api/auth/me").json()["user"]["must_change_password"] is True
    changed = client.post(
        "/api/auth/password",
        json={"current_password": password, "new_password": "a much longer secret"},
    )
    assert changed.status_code == 204
    assert client.get("/api/users").status_code == 200


def test_agency_token_and_no_password_sign_in(app: FastAPI, staff: Staff) -> None:
    with TestClient(app) as client:
        refused = client.post("/api/auth/login", json={"username": "agency1", "password": PASSWORD})
        assert refused.status_code == 401 and refused.json()["detail"] == _UNTOLD
        me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {staff.agency_token}"})
        assert me.status_code == 200 and me.json()["via"] == "token"
        assert me.json()["csrf_token"] is None
        bad = client.get("/api/auth/me", headers={"Authorization": "Bearer cctv_wrong"})
        assert bad.status_code == 401
        basic = client.get("/api/auth/me", headers={"Authorization": "Basic abc"})
        assert basic.status_code == 401
        # A token is not an ambient credential: no CSRF token needed, and none is accepted
        # in place of the token.
        cams = client.get("/api/cameras", headers={"Authorization": f"Bearer {staff.agency_token}"})
        assert cams.status_code == 403


def _refusal_attempt(
    reason: LoginRefusal, access: AccessService, clock: FakeClock
) -> dict[str, object]:
    """Set up a fresh account so that its next sign-in is refused for ``reason``; the login body."""
    root = Principal.local("root")
    username = f"r-{reason.name}"
    role = Role.agency if reason is LoginRefusal.agency_account else Role.viewer
    user, _ = access.create_user(
        root, username=username, role=role, display_name="R", password=PASSWORD
    )
    assert user.id is not None
    body: dict[str, object] = {"username": username, "password": PASSWORD}
    match reason:
        case LoginRefusal.unknown_user:
            body["username"] = "nobody-here"
        case LoginRefusal.account_disabled:
            access.set_disabled(root, user.id, True)
        case LoginRefusal.wrong_password:
            body["password"] = "not the password"
        case LoginRefusal.account_locked:
            for _ in range(access.server.lockout_threshold):
                with pytest.raises(AuthenticationFailed):
                    access.login(username, "not the password")
        case LoginRefusal.agency_account:
            pass
        case LoginRefusal.totp_required | LoginRefusal.wrong_totp:
            me = access.login(username, PASSWORD).principal
            secret, _ = access.totp_begin(me)
            access.totp_confirm(me, totp.totp(secret, clock.now_ms()))
            clock.advance(30)
            if reason is LoginRefusal.wrong_totp:
                body["totp_code"] = "12345x"
        case _:
            assert_never(reason)
    return body


def test_each_refusal_as_the_client_sees_it(
    app: FastAPI, access: AccessService, clock: FakeClock, ctx: AppContext
) -> None:
    assert set(SHOWN) == set(LoginRefusal)
    seen: dict[LoginRefusal, tuple[int, str]] = {}
    with TestClient(app) as client:
        for reason in LoginRefusal:
            body = _refusal_attempt(reason, access, clock)
            response = client.post("/api/auth/login", json=body)
            assert response.json()["error"] == "AuthenticationFailed"
            seen[reason] = (response.status_code, response.json()["detail"])
            # The ledger keeps the real reason, whatever the client was told.
            failures = ctx.ledger.entries(events=[EventType.login_failure], limit=None)
            assert failures[-1].data["reason"].startswith(reason.value)
            assert failures[-1].data["username"] == body["username"]
    assert seen == SHOWN
    # Whoever may not be told reads one and the same answer.
    untold = {seen[r] for r in LoginRefusal if not r.user_may_know}
    assert untold == {(401, _UNTOLD)}
    assert all(seen[r][1] != _UNTOLD for r in LoginRefusal if r.user_may_know)
