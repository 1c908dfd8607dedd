"""Deny by default (invariant 7): every route × every role and anonymous, no unexpected success.

The routes come from ``app.routes`` (so a route added by anyone is covered); for the routes of
the access issue the admitted roles are also pinned here, so widening one fails this test.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from api.deps import CurrentPrincipal
from api.security import (
    RoleGuard,
    RouteInfo,
    UnguardedRoute,
    check_routes,
    mark_public,
    public,
    require,
    routes_of,
)
from appliance.access import AccessService, Principal, Scope
from appliance.models import Role
from appliance.viewing import PurposeCategory, ViewKind, make_purpose
from tests.support.users import ROLE_USERS, Login, Staff

A, OF, V, U = Role.admin, Role.officer, Role.viewer, Role.auditor
ALL = frozenset(Role)
PUBLIC = "public"

EXPECTED: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/api/openapi.json"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/logout"): ALL,
    ("GET", "/api/auth/me"): ALL,
    ("POST", "/api/auth/password"): ALL,
    ("POST", "/api/auth/totp/setup"): ALL,
    ("POST", "/api/auth/totp/confirm"): ALL,
    ("POST", "/api/auth/totp/disable"): ALL,
    ("GET", "/api/users"): frozenset({A, OF, U}),
    ("POST", "/api/users"): frozenset({A, OF}),
    ("GET", "/api/users/annex"): frozenset({A, OF, U}),
    ("GET", "/api/users/{user_id}"): frozenset({A, OF, U}),
    ("PATCH", "/api/users/{user_id}"): frozenset({A, OF}),
    ("POST", "/api/users/{user_id}/disable"): frozenset({A}),
    ("POST", "/api/users/{user_id}/enable"): frozenset({A}),
    ("POST", "/api/users/{user_id}/reset-password"): frozenset({A}),
    ("POST", "/api/users/{user_id}/unlock"): frozenset({A}),
    ("DELETE", "/api/users/{user_id}/totp"): frozenset({A}),
    ("GET", "/api/users/{user_id}/grants"): frozenset({A, OF}),
    ("POST", "/api/users/{user_id}/grants"): frozenset({A, OF}),
    ("GET", "/api/users/{user_id}/tokens"): frozenset({A}),
    ("POST", "/api/users/{user_id}/tokens"): frozenset({A}),
    ("DELETE", "/api/users/{user_id}/tokens/{token_id}"): frozenset({A}),
    ("GET", "/api/cameras"): frozenset({A, OF, V, U}),
    ("GET", "/api/cameras/{camera_id}"): frozenset({A, OF, V, U}),
    ("GET", "/api/timeline/{camera_id}"): frozenset({A, OF, V, U}),
    ("GET", "/api/viewing/purposes"): frozenset({A, OF, V}),
    ("POST", "/api/viewing"): frozenset({A, OF, V}),
    ("GET", "/api/viewing"): frozenset({A, OF, V}),
    ("GET", "/api/viewing/{viewing_id}"): frozenset({A, OF, V}),
    ("POST", "/api/viewing/{viewing_id}/end"): frozenset({A, OF, V}),
    ("GET", "/api/viewing/{viewing_id}/media"): frozenset({A, OF, V}),
    ("GET", "/api/viewing/{viewing_id}/live"): frozenset({A, OF, V}),
    ("GET", "/api/ledger/management"): frozenset({OF, U}),
    ("GET", "/api/ledger/destruction"): frozenset({OF, U}),
    ("GET", "/api/ledger/verify"): frozenset({A, OF, U}),
    ("POST", "/api/ledger/heads"): frozenset({A, OF}),
    ("GET", "/api/ledger/heads/latest"): frozenset({A, OF, U}),
    ("GET", "/ledger"): frozenset({OF, U}),
    # The request desk (issue 14): the officer acts, the auditor reads; agencies their own.
    ("GET", "/requests"): frozenset({OF, U}),
    ("GET", "/requests/new"): frozenset({OF}),
    ("GET", "/requests/form"): frozenset({OF}),
    ("GET", "/requests/{request_id}"): frozenset({OF, U}),
    ("GET", "/api/agency/cameras"): frozenset({Role.agency}),
    ("POST", "/api/agency/requests/{request_id}/withdraw"): frozenset({Role.agency}),
    ("POST", "/api/agency/requests/{request_id}/documents"): frozenset({Role.agency}),
    ("GET", "/api/agency/requests/{request_id}/events"): frozenset({Role.agency}),
    # issue 15: accounts pages, two-step sign-in, vault unlock
    ("POST", "/api/auth/totp/recovery-codes"): ALL,
    ("GET", "/api/vault"): frozenset({A, OF}),
    ("POST", "/api/vault/unlock"): frozenset({A, OF}),
    ("GET", "/accounts"): frozenset({A, OF}),
    ("GET", "/accounts/{user_id}"): frozenset({A, OF}),
    ("GET", "/account/security"): frozenset({A, OF, V, U}),
    ("GET", "/vault"): frozenset({A, OF}),
}

ROLE_DENIAL = re.compile(r"^this needs the role")


def _operations(app: FastAPI) -> list[tuple[str, RouteInfo]]:
    found: list[tuple[str, RouteInfo]] = []
    for route in routes_of(app):
        assert route.methods, f"{route.path}: not an HTTP route; give it its own test"
        found.extend((method, route) for method in sorted(route.methods))
    # Logging out ends the session the rest of the sweep uses: do it last.
    return sorted(found, key=lambda item: item[1].path == "/api/auth/logout")


def _declared(route: RouteInfo) -> frozenset[Role] | str:
    if route.guard == "public":
        return PUBLIC
    assert isinstance(route.guard, RoleGuard), f"{route.path} is unguarded"
    return frozenset(route.guard.roles)


def test_every_route_declares_its_roles(app: FastAPI) -> None:
    check_routes(app)  # create_app ran it too; this names the offenders if any
    for method, route in _operations(app):
        declared = _declared(route)
        expected = EXPECTED.get((method, route.path))
        if expected is not None:
            assert declared == expected, f"{method} {route.path}: {declared} != {expected}"
    ours = {(m, r.path) for m, r in _operations(app)}
    assert set(EXPECTED) <= ours, f"routes gone: {set(EXPECTED) - ours}"


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "1"), path)


def _detail(response: Any) -> Any:
    if not response.content or not response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        return None
    body = response.json()
    return body.get("detail") if isinstance(body, dict) else None


def test_authorization_matrix(
    app: FastAPI,
    staff: Staff,
    login: Login,
    anonymous: TestClient,
    access: AccessService,
) -> None:
    # Objects for the path parameters: a spare account, its own token, a viewing session.
    root = Principal.local("root")
    target, _ = access.create_user(
        root, username="target", role=Role.viewer, display_name="T", password="x" * 12
    )
    spare, _ = access.create_user(
        root, username="agency2", role=Role.agency, display_name="A2", password="x" * 12
    )
    assert target.id is not None and spare.id is not None
    token = access.issue_token(root, spare.id, name="t", scopes=[Scope.requests_read], ttl_days=1)
    viewing = app.state.viewing.open(
        access.login("viewer1", "correct horse battery").principal,
        kind=ViewKind.playback,
        cameras=["cam01"],
        purpose=make_purpose(PurposeCategory.incident.value, "matrix test"),
        start_ms=app.state.ctx.clock.now_ms() - 60_000,
        end_ms=app.state.ctx.clock.now_ms(),
    )
    values = {
        "user_id": str(target.id),
        "token_id": str(token.row.id),
        "viewing_id": str(viewing.id),
        "camera_id": "cam01",
    }
    clients: dict[Role | None, TestClient] = {None: anonymous}
    for role, username in ROLE_USERS.items():
        if role is Role.agency:
            client = TestClient(app, headers={"Authorization": f"Bearer {staff.agency_token}"})
        else:
            client = login(username)
        clients[role] = client

    problems: list[str] = []
    checked = 0
    for method, route in _operations(app):
        admitted = _declared(route)
        url = _fill(route.path, values)
        body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
        for who_role, client in clients.items():
            if route.path == "/api/auth/login":
                continue  # public; covered by its own tests
            response = client.request(method, url, json=body)
            checked += 1
            status = response.status_code
            detail = _detail(response)
            who = who_role.value if who_role else "anonymous"
            if admitted == PUBLIC:
                ok = status < 500
            elif who_role is None:
                ok = status == 401
            elif who_role not in admitted:
                ok = status == 403 and isinstance(detail, str) and bool(ROLE_DENIAL.match(detail))
            else:
                role_denied = (
                    status == 403 and isinstance(detail, str) and ROLE_DENIAL.match(detail)
                )
                ok = status not in (401, 500) and not role_denied
            if not ok:
                problems.append(f"{method} {route.path} as {who}: {status} {detail!r}")
    assert not problems, "\n".join(problems)
    assert checked >= len(EXPECTED) * 5


def test_unguarded_route_refuses_to_start() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/open")
    def forgotten() -> dict[str, str]:
        return {}

    @router.get("/signed-in-only")
    def no_role(principal: CurrentPrincipal) -> dict[str, str]:
        return {}

    @router.get("/fine", dependencies=[Depends(require(Role.admin))])
    def fine() -> dict[str, str]:
        return {}

    @router.get("/login-page", dependencies=[Depends(public)])
    def login_page() -> dict[str, str]:
        return {}

    app.include_router(router)
    with pytest.raises(UnguardedRoute) as info:
        check_routes(app)
    message = str(info.value)
    assert "/open" in message and "/signed-in-only" in message
    assert "/fine" not in message and "/login-page" not in message


def test_contradictory_and_plain_routes_are_refused() -> None:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/both", dependencies=[Depends(public), Depends(require(Role.admin))])
    def both() -> None:
        return None

    app.router.routes.append(Mount("/static", routes=[]))
    with pytest.raises(UnguardedRoute) as info:
        check_routes(app)
    assert "/both" in str(info.value) and "/static" in str(info.value)
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") != "/both"]
    mark_public(app.router.routes[-1])
    check_routes(app)


def test_default_docs_routes_are_not_mounted(app: FastAPI, anonymous: TestClient) -> None:
    # FastAPI's own /docs, /redoc and /openapi.json would be routes without a declaration.
    assert anonymous.get("/docs").status_code == 404
    assert anonymous.get("/openapi.json").status_code == 404
    schema = anonymous.get("/api/openapi.json").json()
    assert schema["paths"]["/api/users"]["get"]["x-roles"] == ["admin", "officer", "auditor"]
    assert schema["paths"]["/api/health"]["get"]["x-public"] is True


def test_require_needs_a_role() -> None:
    assert repr(require(Role.admin, Role.officer)) == "require(admin, officer)"
    with pytest.raises(ValueError, match="at least one role"):
        require()


def test_router_level_guard_counts(app: FastAPI) -> None:
    # A guard given to a whole router applies to its routes (FastAPI's included routers).
    extra = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    router = APIRouter(prefix="/x", dependencies=[Depends(require(Role.auditor))])

    @router.get("/y")
    def y() -> None:
        return None

    extra.include_router(router)
    check_routes(extra)
    assert [r.guard.roles for r in routes_of(extra) if isinstance(r.guard, RoleGuard)] == [
        (Role.auditor,)
    ]
