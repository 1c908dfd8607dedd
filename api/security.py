"""Deny by default (invariant 7): every route names the roles it admits, on the route itself.

A route depends on ``require(Permission.x, ...)`` (which authenticates, then checks that the
role holds the permission of ``appliance.access.roles``, the token's scopes and a pending
password change) or on ``public`` (login, health). No list of URL strings decides anything.
``check_routes`` runs when the app is built and refuses to start if any route has neither; it
also writes each route's roles into the OpenAPI schema.

These are the mechanisms (cookie, CSRF and token checks, the guards, the route sweep); routes
take them, and every other dependency, from ``api.deps``. ``authenticate`` and ``get_access``
stay here because ``RoleGuard`` depends on them when this module is imported, and ``api.deps``
re-exports the guards: defining them in ``api.deps`` would make the two modules import each
other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.routing import BaseRoute

from appliance.access import AccessService, Permission, Principal, Scope, roles_with
from appliance.errors import AuthenticationFailed, PermissionDenied
from appliance.models import Role

__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "ErrorBody",
    "RoleGuard",
    "RouteInfo",
    "UnguardedRoute",
    "admitted_roles",
    "authenticate",
    "check_routes",
    "describe_security",
    "get_access",
    "guard_of",
    "mark_public",
    "public",
    "require",
    "routes_of",
]

COOKIE_NAME = "cctv_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared as security schemes so the OpenAPI schema says how to authenticate.
_cookie_scheme = APIKeyCookie(
    name=COOKIE_NAME, auto_error=False, description="Staff session (HttpOnly, SameSite=Strict)."
)
_csrf_scheme = APIKeyHeader(
    name=CSRF_HEADER,
    auto_error=False,
    description="CSRF token from login; required on every state-changing cookie request.",
)
_bearer_scheme = HTTPBearer(auto_error=False, description="Agency API token (cctv_...).")


class ErrorBody(BaseModel):
    """Every refusal: a 4xx with the reason."""

    detail: str
    error: str


class UnguardedRoute(RuntimeError):
    """A route declares neither its roles nor that it is public."""


def get_access(http_request: Request) -> AccessService:
    access: AccessService = http_request.app.state.access
    return access


def authenticate(
    http_request: Request,
    access: Annotated[AccessService, Depends(get_access)],
    cookie: Annotated[str | None, Depends(_cookie_scheme)] = None,
    csrf: Annotated[str | None, Depends(_csrf_scheme)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)] = None,
) -> Principal:
    """The caller's principal from its bearer token or session cookie (401 if none)."""
    if bearer is None and http_request.headers.get("authorization"):
        raise AuthenticationFailed("Authorization must be 'Bearer <token>'")
    principal = access.authenticate(
        cookie=cookie,
        bearer=bearer.credentials if bearer else None,
        csrf_header=csrf,
        state_changing=http_request.method not in SAFE_METHODS,
    )
    http_request.state.principal = principal
    return principal


class RoleGuard:
    """The dependency ``require`` returns; ``check_routes`` looks for it."""

    def __init__(
        self, roles: tuple[Role, ...], scopes: tuple[Scope, ...], allow_password_change: bool
    ) -> None:
        if not roles:
            raise ValueError("require() needs at least one role")
        self.roles = roles
        self.scopes = scopes
        self.allow_password_change = allow_password_change

    def __call__(self, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in self.roles:
            names = ", ".join(r.value for r in self.roles)
            raise PermissionDenied(f"this needs the role {names}; you are {principal.role.value}")
        missing = [s.value for s in self.scopes if not principal.has_scope(s)]
        if missing:
            raise PermissionDenied(f"the API token lacks the scope {', '.join(missing)}")
        if principal.must_change_password and not self.allow_password_change:
            raise PermissionDenied("change your password first (POST /api/auth/password)")
        return principal

    def __repr__(self) -> str:
        return f"require({', '.join(r.value for r in self.roles)})"


def admitted_roles(admitted: Iterable[Role | Permission]) -> tuple[Role, ...]:
    """The roles named, plus those holding a named permission, in ``Role`` order."""
    wanted = set(admitted)
    roles = {r for r in wanted if isinstance(r, Role)}
    for permission in wanted - roles:
        roles.update(roles_with(Permission(permission)))
    return tuple(role for role in Role if role in roles)


def require(
    *admitted: Role | Permission, scopes: Iterable[Scope] = (), allow_password_change: bool = False
) -> RoleGuard:
    """A dependency admitting only the roles holding a permission of ``admitted`` (or named
    there), and, for tokens, only with ``scopes``."""
    return RoleGuard(admitted_roles(admitted), tuple(scopes), allow_password_change)


def public() -> None:
    """Declares a route open to anonymous callers: ``dependencies=[Depends(public)]``."""


def mark_public(route: BaseRoute) -> BaseRoute:
    """Declare a plain Starlette route or mount (static assets) public; returns it."""
    route.x_public = True  # type: ignore[attr-defined]
    return route


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


@dataclass(frozen=True)
class RouteInfo:
    """One effective route (router prefixes and router-level dependencies applied)."""

    path: str
    methods: frozenset[str]
    guard: RoleGuard | str | None  # a RoleGuard, "public", or None (undeclared)
    include_in_schema: bool
    original: BaseRoute


def _effective(app: FastAPI) -> Iterator[tuple[BaseRoute, Any]]:
    """(original route, the route as served) for every route, through included routers."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x: lazy inclusion
    except ImportError:  # older FastAPI copies routes into app.routes
        for route in app.routes:
            yield route, route
        return
    for context in iter_route_contexts(app.routes):
        yield context.original_route, context


def _guard(original: BaseRoute, served: Any) -> RoleGuard | str | None:
    if isinstance(original, APIRoute | APIWebSocketRoute):
        dependant = getattr(served, "dependant", None) or original.dependant
        calls = list(_calls(dependant))
        guards = [c for c in calls if isinstance(c, RoleGuard)]
        extra = getattr(served, "openapi_extra", None) or {}
        is_public = any(c is public for c in calls) or bool(extra.get("x-public"))
        if guards and is_public:
            return None  # contradictory: treat as undeclared
        if len(guards) > 1:
            # Several guards: the request must pass all, so the admitted roles intersect.
            roles = tuple(r for r in guards[0].roles if all(r in g.roles for g in guards[1:]))
            if not roles:
                return None
            scopes = tuple({s for g in guards for s in g.scopes})
            return RoleGuard(roles, scopes, all(g.allow_password_change for g in guards))
        if guards:
            return guards[0]
        return "public" if is_public else None
    return "public" if getattr(original, "x_public", False) else None


def routes_of(app: FastAPI) -> list[RouteInfo]:
    """Every route the app serves, with its declared guard."""
    found = []
    for original, served in _effective(app):
        found.append(
            RouteInfo(
                path=str(
                    getattr(served, "path_format", None)
                    or getattr(served, "path", None)
                    or getattr(original, "path", "")
                ),
                methods=frozenset(getattr(served, "methods", None) or ()),
                guard=_guard(original, served),
                include_in_schema=bool(getattr(served, "include_in_schema", False)),
                original=original,
            )
        )
    return found


def guard_of(route: BaseRoute) -> RoleGuard | str | None:
    """The guard of a route object as declared on it (see ``routes_of`` for a whole app)."""
    return _guard(route, route)


def check_routes(app: FastAPI) -> None:
    """Refuse to start if any route is neither guarded nor declared public (invariant 7)."""
    bad = [
        f"{' '.join(sorted(r.methods)) or type(r.original).__name__} {r.path}"
        for r in routes_of(app)
        if r.guard is None
    ]
    if bad:
        raise UnguardedRoute(
            "routes without require(...) or public (deny by default): " + "; ".join(bad)
        )


_ERRORS = {
    "401": "Not signed in, session ended, or bad token.",
    "403": "Role, grant, scope or CSRF token does not allow this.",
    "404": "No such object (or not visible to you).",
    "409": "Conflicts with the current state.",
    "422": "Input breaks a rule.",
    "423": "The vault is locked: no footage can be decrypted.",
    "503": "The ledger cannot be written, so nothing was done (fail closed).",
}


def describe_security(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Add each operation's roles (``x-roles``), its security and its 4xx bodies to ``schema``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorBody", ErrorBody.model_json_schema())
    error_ref = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    }
    for route in routes_of(app):
        if not route.include_in_schema:
            continue
        guard = route.guard
        operations = schema.get("paths", {}).get(route.path, {})
        for method in route.methods:
            operation = operations.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            if isinstance(guard, RoleGuard):
                operation["x-roles"] = [r.value for r in guard.roles]
                if guard.scopes:
                    operation["x-scopes"] = [s.value for s in guard.scopes]
                codes = list(_ERRORS)
            else:
                operation["x-public"] = True
                operation["security"] = []
                codes = ["401", "409", "422", "503"]
            for code in codes:
                responses.setdefault(code, {"description": _ERRORS[code], **error_ref})
    return schema
