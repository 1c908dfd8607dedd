"""Logins, lockout, sessions, TOTP, grants and tokens against a real database and ledger."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from appliance.access import AccessService, Principal, Scope, UserChanges, Via, totp
from appliance.access._shared import AccessBase
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import (
    AuthenticationFailed,
    Conflict,
    LedgerUnavailable,
    PermissionDenied,
    ValidationFailed,
)
from appliance.ledger import EventType
from appliance.models import Role, User
from tests.support.users import PASSWORD

MakeUser = Callable[..., User]


def _events(ctx: AppContext, *types: EventType) -> list[dict[str, object]]:
    return [e.data for e in ctx.ledger.entries(events=types, limit=None)]


def test_login_success_and_failure_are_recorded(
    ctx: AppContext, access: AccessService, make_user: MakeUser
) -> None:
    make_user("kim")
    result = access.login("kim", PASSWORD, remote_addr="10.0.0.5")
    assert result.principal.username == "kim" and result.principal.via is Via.session
    with pytest.raises(AuthenticationFailed, match="invalid username, password or TOTP code"):
        access.login("kim", "wrong password here")
    with pytest.raises(AuthenticationFailed, match="invalid username, password or TOTP code"):
        access.login("nobody", PASSWORD)
    assert _events(ctx, EventType.login_success) == [
        {"username": "kim", "remote": "10.0.0.5", "mfa": False}
    ]
    reasons = [d["reason"] for d in _events(ctx, EventType.login_failure)]
    assert reasons == ["wrong password", "unknown username"]


def test_lockout_with_backoff(
    ctx: AppContext, clock: FakeClock, access: AccessService, make_user: MakeUser
) -> None:
    make_user("lee")
    for _ in range(5):  # threshold 5 (default)
        with pytest.raises(AuthenticationFailed, match="invalid username, password or TOTP code"):
            access.login("lee", "bad password 123")
    # Locked: even the right password is refused; the ledger says for how long.
    with pytest.raises(AuthenticationFailed, match="invalid username, password or TOTP code"):
        access.login("lee", PASSWORD)
    assert _events(ctx, EventType.login_failure)[-1]["reason"] == (
        "account locked for 30 s after repeated failures"
    )
    clock.advance(31)
    # One more failure after the lock doubles it.
    with pytest.raises(AuthenticationFailed, match="invalid username, password or TOTP code"):
        access.login("lee", "bad password 123")
    with pytest.raises(AuthenticationFailed):
        access.login("lee", PASSWORD)
    assert _events(ctx, EventType.login_failure)[-1]["reason"] == (
        "account locked for 60 s after repeated failures"
    )
    clock.advance(61)
    access.login("lee", PASSWORD)
    with ctx.db.session() as session:
        user = session.get(User, access.user_id_by_name("lee"))
        assert user is not None and user.failed_logins == 0 and user.locked_until_ms == 0


def test_admin_unlock(access: AccessService, root: Principal, make_user: MakeUser) -> None:
    user = make_user("park")
    for _ in range(5):
        with pytest.raises(AuthenticationFailed, match="invalid username, password or TOTP code"):
            access.login("park", "bad password 123")
    assert user.id is not None
    access.unlock(root, user.id)
    access.login("park", PASSWORD)


def test_disabled_account_cannot_sign_in_and_its_sessions_end(
    access: AccessService, root: Principal, make_user: MakeUser
) -> None:
    user = make_user("choi")
    assert user.id is not None
    result = access.login("choi", PASSWORD)
    access.set_disabled(root, user.id, True, "left the clinic")
    with pytest.raises(AuthenticationFailed, match=r"session ended \(disabled\)"):
        access.authenticate(
            cookie=result.session_token, bearer=None, csrf_header=None, state_changing=False
        )
    with pytest.raises(AuthenticationFailed, match="invalid username, password or TOTP code"):
        access.login("choi", PASSWORD)


def test_session_idle_and_absolute_expiry(
    clock: FakeClock, access: AccessService, make_user: MakeUser
) -> None:
    make_user("jung")
    idle_s = access.server.session_idle_s
    token = access.login("jung", PASSWORD).session_token

    def auth() -> Principal:
        return access.authenticate(
            cookie=token, bearer=None, csrf_header=None, state_changing=False
        )

    clock.advance(idle_s - 1)
    auth()  # activity resets the idle timer
    clock.advance(idle_s - 1)
    auth()
    clock.advance(idle_s)
    with pytest.raises(AuthenticationFailed, match="idle"):
        auth()
    # Absolute: kept busy, the session still ends after session_absolute_s.
    token = access.login("jung", PASSWORD).session_token
    for _ in range(access.server.session_absolute_s // (idle_s - 60) + 1):
        clock.advance(idle_s - 60)
        try:
            auth()
        except AuthenticationFailed as exc:
            assert "absolute" in str(exc)
            break
    else:
        pytest.fail("the session outlived its absolute timeout")


def test_csrf_required_for_state_changing_cookie_requests(
    access: AccessService, make_user: MakeUser
) -> None:
    make_user("han")
    result = access.login("han", PASSWORD)
    kwargs = {"cookie": result.session_token, "bearer": None}
    access.authenticate(**kwargs, csrf_header=None, state_changing=False)
    with pytest.raises(PermissionDenied, match="CSRF"):
        access.authenticate(**kwargs, csrf_header=None, state_changing=True)
    with pytest.raises(PermissionDenied, match="CSRF"):
        access.authenticate(**kwargs, csrf_header="forged", state_changing=True)
    access.authenticate(**kwargs, csrf_header=result.csrf_token, state_changing=True)


def test_totp_enrolment_and_login(
    ctx: AppContext, clock: FakeClock, access: AccessService, make_user: MakeUser
) -> None:
    make_user("yoon")
    me = access.login("yoon", PASSWORD).principal
    secret, uri = access.totp_begin(me)
    assert secret in uri
    with pytest.raises(ValidationFailed, match="wrong TOTP code"):
        access.totp_confirm(me, "000000" if totp.totp(secret, clock.now_ms()) != "000000" else "1")
    access.totp_confirm(me, totp.totp(secret, clock.now_ms()))
    clock.advance(30)
    # The client reads one uniform refusal; the ledger keeps the real reason.
    with pytest.raises(AuthenticationFailed, match="invalid username, password or TOTP code"):
        access.login("yoon", PASSWORD)
    assert _events(ctx, EventType.login_failure)[-1]["reason"] == "TOTP code required"
    with pytest.raises(AuthenticationFailed):
        access.login("yoon", PASSWORD, totp_code="12345x")
    assert _events(ctx, EventType.login_failure)[-1]["reason"] == "wrong TOTP code"
    code = totp.totp(secret, clock.now_ms())
    assert access.login("yoon", PASSWORD, totp_code=code).principal.username == "yoon"
    # The same code cannot be replayed within its window.
    with pytest.raises(AuthenticationFailed):
        access.login("yoon", PASSWORD, totp_code=code)
    assert _events(ctx, EventType.login_failure)[-1]["reason"] == "wrong TOTP code"
    changes = [d["changes"] for d in _events(ctx, EventType.user_changed)]
    assert {"totp": [False, True], "recovery_codes": 10} in changes


def test_grants_are_minimal_and_recorded(
    ctx: AppContext, access: AccessService, root: Principal, make_user: MakeUser
) -> None:
    viewer = make_user("viewer1")
    auditor = make_user("audit1", Role.auditor)
    assert viewer.id is not None and auditor.id is not None
    assert access.change_grants(root, viewer.id, add=["cam01", "cam02"]) == ["cam01", "cam02"]
    assert access.change_grants(root, viewer.id, revoke=["cam01"]) == ["cam02"]
    with pytest.raises(ValidationFailed, match="does not take camera grants"):
        access.change_grants(root, auditor.id, add=["cam01"])
    with pytest.raises(Conflict, match="already granted"):
        access.change_grants(root, viewer.id, add=["cam02"])
    data = _events(ctx, EventType.grant_changed)
    assert data == [
        {"username": "viewer1", "cameras": ["cam01", "cam02"], "granted": True, "role": "viewer"},
        {"username": "viewer1", "cameras": ["cam01"], "granted": False, "role": "viewer"},
    ]
    history = access.grant_history(root, viewer.id)
    assert [(g.camera_id, g.revoked_ms is None) for g in history] == [
        ("cam01", False),
        ("cam02", True),
    ]


def test_nobody_grants_to_themselves(access: AccessService, make_user: MakeUser) -> None:
    admin = make_user("admin2", Role.admin)
    me = access.login("admin2", PASSWORD).principal
    assert admin.id is not None
    with pytest.raises(PermissionDenied, match="a grant to oneself"):
        access.change_grants(me, admin.id, add=["cam01"])


def test_viewer_cannot_administer(access: AccessService, make_user: MakeUser) -> None:
    target = make_user("someone")
    make_user("viewer2")
    me = access.login("viewer2", PASSWORD).principal
    assert target.id is not None
    with pytest.raises(PermissionDenied, match=r"may not manage.accounts"):
        access.create_user(me, username="x", role=Role.viewer, display_name="X")
    with pytest.raises(PermissionDenied, match="only the officer"):
        access.create_user(me, username="y", role=Role.admin, display_name="Y")
    with pytest.raises(PermissionDenied, match="may not manage_grants"):
        access.change_grants(me, target.id, add=["cam01"])
    with pytest.raises(PermissionDenied, match="a viewer may not change accounts"):
        access.update_user(me, target.id, UserChanges(role=Role.admin))
    with pytest.raises(PermissionDenied, match="a viewer may not change accounts"):
        access.update_user(me, target.id, UserChanges(display_name="Z"))


def test_last_admin_is_kept(ctx: AppContext, access: AccessService, root: Principal) -> None:
    admin_id = access.user_id_by_name("admin")  # made by `appliance init`
    with pytest.raises(Conflict, match="last enabled administrator"):
        access.set_disabled(root, admin_id, True)
    with pytest.raises(Conflict, match="last enabled administrator"):
        access.update_user(root, admin_id, UserChanges(role=Role.viewer))


def test_agency_tokens_scoped_expiring_revocable(
    ctx: AppContext, clock: FakeClock, access: AccessService, root: Principal, make_user: MakeUser
) -> None:
    agency = make_user("police-gangnam", Role.agency)
    viewer = make_user("viewer3")
    assert agency.id is not None and viewer.id is not None
    with pytest.raises(ValidationFailed, match="agency"):
        access.issue_token(root, viewer.id, name="x", scopes=[Scope.requests_read], ttl_days=1)
    issued = access.issue_token(
        root, agency.id, name="case 2026-17", scopes=[Scope.requests_read], ttl_days=2
    )
    assert issued.token.startswith("cctv_")
    with ctx.db.session() as session:  # only the digest is stored
        from appliance.models import ApiToken

        stored = session.get(ApiToken, issued.row.id)
        assert stored is not None and issued.token not in stored.token_hash

    def auth(token: str) -> Principal:
        return access.authenticate(cookie=None, bearer=token, csrf_header=None, state_changing=True)

    principal = auth(issued.token)
    assert principal.role is Role.agency and principal.via is Via.token
    assert principal.has_scope(Scope.requests_read)
    assert not principal.has_scope(Scope.requests_write)
    with pytest.raises(AuthenticationFailed, match="unknown"):
        auth(issued.token + "x")
    clock.advance(2 * 86400)
    with pytest.raises(AuthenticationFailed, match="expired"):
        auth(issued.token)
    second = access.issue_token(
        root, agency.id, name="case 18", scopes=[Scope.requests_write], ttl_days=30
    )
    assert second.row.id is not None
    access.revoke_token(root, second.row.id)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        auth(second.token)
    granted = [d["granted"] for d in _events(ctx, EventType.grant_changed)]
    assert granted == [True, True, False]


def test_broken_ledger_refuses_login(
    ctx: AppContext, access: AccessService, make_user: MakeUser
) -> None:
    make_user("seo")
    break_ledger(ctx)
    with pytest.raises(LedgerUnavailable, match="tip row is missing"):
        access.login("seo", PASSWORD)


def break_ledger(ctx: AppContext) -> None:
    """A real broken ledger: its tip row is gone, so no entry can be chained."""
    from sqlalchemy import text

    with ctx.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_tip"))


def test_the_parts_of_access_service_do_not_shadow_each_other() -> None:
    # AccessService joins one class per part; a method defined twice would silently pick one.
    parts = [c for c in AccessService.__mro__ if c not in (AccessService, AccessBase, object)]
    names = [n for cls in parts for n in vars(cls) if not n.startswith("__")]
    assert len(names) == len(set(names))
    assert {cls.__name__ for cls in parts} == {
        "LoginService",
        "OwnAccountService",
        "AccountService",
        "GrantService",
        "TokenService",
    }
