"""The staff web viewer: sign-in, home, viewing and password pages (server-rendered HTML).

The pages only render what the signed-in person may see; every action (signing in, opening
and ending a viewing session, changing the password, signing out) is a call from the page's
script to the JSON API, so the same domain rules, CSRF check and ledger entries apply.

Each page declares its roles like the API routes, through ``page_guard`` (``api.web.pages``,
with the language dependency and the renderer every page shares): a ``RoleGuard`` (so
``check_routes`` and the authorization sweep see it) that answers a browser with a redirect
(to /login, to /password, or home) where an API client gets the usual 401/403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlmodel import select

from api.deps import COOKIE_NAME, AccessDep, ContextDep, RequestsDep, authenticate, public
from api.web import STATIC_DIR
from api.web.pages import LangDep, PageGuard, page_guard, render
from appliance.access import AccessService, Permission, Principal
from appliance.context import AppContext
from appliance.errors import AuthenticationFailed, PermissionDenied
from appliance.models.media import CameraStatus
from appliance.recorder_state import CameraState
from appliance.viewing import PurposeCategory

__all__ = ["PageGuard", "page_guard", "router", "safe_next"]

router = APIRouter(tags=["pages"], include_in_schema=False)

LEDGER_PAGE = "/ledger"  # the ledger pages (another part of the web UI)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\"):
        return "/"
    return target


# Agencies act through their API token only, never through these pages.
_Staff = Annotated[Principal, Depends(page_guard(Permission.staff_pages))]
_Footage = Annotated[Principal, Depends(page_guard(Permission.view_footage))]
_Self = Annotated[
    Principal, Depends(page_guard(Permission.staff_pages, allow_password_change=True))
]


def _local(ctx: AppContext, ms: int, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(ms / 1000, tz=ctx.settings.zone).strftime(fmt)


def _signed_in(http_request: Request, access: AccessService) -> Principal | None:
    try:
        return authenticate(http_request, access, cookie=http_request.cookies.get(COOKIE_NAME))
    except (AuthenticationFailed, PermissionDenied):
        return None


@router.get("/login", response_class=HTMLResponse, dependencies=[Depends(public)])
def login_page(
    http_request: Request,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
    next_: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
    signed_out: Annotated[bool, Query(alias="signed_out")] = False,
) -> Response:
    """Sign in (the form posts to /api/auth/login)."""
    target = safe_next(next_)
    if http_request.cookies.get(COOKIE_NAME) and _signed_in(http_request, access) is not None:
        return Response(status_code=303, headers={"Location": target})
    return render(
        http_request, "login.html", lang, ctx, access, None, next_url=target, signed_out=signed_out
    )


@router.get("/password", response_class=HTMLResponse)
def password_page(
    http_request: Request, principal: _Self, lang: LangDep, ctx: ContextDep, access: AccessDep
) -> HTMLResponse:
    """Change one's own password (first, when it was generated or reset)."""
    return render(
        http_request,
        "password.html",
        lang,
        ctx,
        access,
        principal,
        first=principal.must_change_password,
    )


@dataclass(frozen=True)
class _CameraRow:
    id: str
    name: str
    location: str
    status_key: str
    reason: str
    since: str
    last_footage: str


def _camera_rows(ctx: AppContext, access: AccessService, principal: Principal) -> list[_CameraRow]:
    """The cameras the principal may view, with what the recorder last reported for each."""
    cameras = [camera for camera, viewable in access.cameras_for(principal) if viewable]
    with ctx.db.session() as session:
        states = {row.camera_id: row for row in session.exec(select(CameraStatus)).all()}
    rows = []
    for camera in cameras:
        state = states.get(camera.id)
        if not camera.enabled:
            key = "status.disabled"
        elif state is None or state.state not in set(CameraState):
            key = "status.unknown"
        else:
            key = f"status.{state.state}"
        last = state.last_segment_end_ms if state else None
        rows.append(
            _CameraRow(
                id=camera.id,
                name=camera.name,
                location=camera.location,
                status_key=key,
                reason=state.reason if state and state.state == CameraState.failed else "",
                since=_local(ctx, state.since_ms) if state else "",
                last_footage=_local(ctx, last) if last else "",
            )
        )
    return rows


@router.get("/", response_class=HTMLResponse)
def home_page(
    http_request: Request,
    principal: _Staff,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
    requests: RequestsDep,
    denied: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    """The cameras one may view with their status; the ledger link; accounts for admins."""
    accounts = access.list_users(principal) if principal.can(Permission.manage_accounts) else None
    return render(
        http_request,
        "home.html",
        lang,
        ctx,
        access,
        principal,
        cameras=_camera_rows(ctx, access, principal),
        accounts=accounts,
        now_ms=ctx.clock.now_ms(),
        ledger_href=LEDGER_PAGE if principal.can(Permission.read_ledger) else None,
        denied=denied,
        # The officer's request desk at a glance (issue 14, api/routes/desk_pages.py).
        desk=requests.desk_summary(principal)
        if principal.can(Permission.manage_requests)
        else None,
    )


@router.get("/view", response_class=HTMLResponse)
def view_page(
    http_request: Request,
    principal: _Footage,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
    camera: Annotated[str | None, Query(max_length=63)] = None,
    mode: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """Choose cameras, a range and a purpose; play recorded or live footage; end viewing."""
    cameras = _camera_rows(ctx, access, principal)
    now = ctx.clock.now_ms()
    zone = ctx.settings.zone
    local_now = datetime.fromtimestamp(now / 1000, tz=zone)
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = max(midnight, local_now - timedelta(hours=1))
    return render(
        http_request,
        "view.html",
        lang,
        ctx,
        access,
        principal,
        cameras=cameras,
        chosen=camera if any(c.id == camera for c in cameras) else None,
        live=mode == "live",
        purposes=[c.value for c in PurposeCategory],
        request_category=PurposeCategory.request.value,
        timezone=ctx.settings.site.timezone,
        recorded_limit=ctx.settings.viewing.recorded_streams_per_user,
        today=local_now.date().isoformat(),
        default_from=start.strftime("%H:%M:%S"),
        default_to=local_now.strftime("%H:%M:%S"),
    )


_static = StaticFiles(directory=STATIC_DIR)


# A route rather than a Mount: every route the app serves is an HTTP route with declared
# roles, which the authorization sweep (tests/api/test_authorization.py) calls one by one.
@router.get("/static/{path:path}", dependencies=[Depends(public)])
async def static_file(path: str, http_request: Request) -> Response:
    """Scripts and styles of the pages (vendored; nothing comes from the internet)."""
    response = await _static.get_response(path, http_request.scope)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
