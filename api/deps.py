"""The one module routes import their dependencies from: the context, a database session, the
domain services, the principal, the guards and the shared parameter types.

Every route also depends on ``require(Permission.x)`` or ``public``: deny by default. The guards
and ``authenticate`` (the cookie, CSRF and token checks) are defined in ``api.security`` and
re-exported here: they depend on ``get_access`` when ``api.security`` is imported, so defining
that getter here, which imports the guards, would make the two modules import each other.
Every other getter lives here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import Field
from sqlmodel import Session

from api.security import (
    COOKIE_NAME,
    RoleGuard,
    admitted_roles,
    authenticate,
    get_access,
    public,
    require,
)
from appliance.access import AccessService, Principal
from appliance.context import AppContext
from appliance.requests import RequestService
from appliance.settings import ID_PATTERN
from appliance.viewing import ViewingService

__all__ = [
    "COOKIE_NAME",
    "ROW_ID_MAX",
    "AccessDep",
    "CameraField",
    "CameraId",
    "CameraQuery",
    "ContextDep",
    "CurrentPrincipal",
    "RequestsDep",
    "RoleGuard",
    "RowId",
    "SessionDep",
    "ViewingDep",
    "admitted_roles",
    "authenticate",
    "get_access",
    "get_context",
    "get_requests",
    "get_session",
    "get_viewing",
    "public",
    "require",
]


def get_context(http_request: Request) -> AppContext:
    ctx: AppContext = http_request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_session(ctx: ContextDep) -> Iterator[Session]:
    with ctx.db.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


AccessDep = Annotated[AccessService, Depends(get_access)]


def get_requests(ctx: ContextDep) -> RequestService:
    return RequestService(ctx)


RequestsDep = Annotated[RequestService, Depends(get_requests)]


def get_viewing(http_request: Request) -> ViewingService:
    viewing: ViewingService = http_request.app.state.viewing
    return viewing


ViewingDep = Annotated[ViewingService, Depends(get_viewing)]

# Who is asking; a route still needs ``require(...)`` to say which roles it admits.
CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


#: The one upper bound of a row id in a path: the largest value every id column holds on both
#: databases (PostgreSQL INTEGER), so an id past it is a 422, never a database error.
ROW_ID_MAX = 2**31 - 1

#: A row id in the path (request, user, viewing session, document, notice, token ...).
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]

#: A camera id (the same pattern the configuration enforces) in the path, the query or a body.
CameraId = Annotated[str, Path(pattern=ID_PATTERN, description="Camera id.")]
CameraQuery = Annotated[str, Query(pattern=ID_PATTERN, description="Camera id.")]
CameraField = Annotated[str, Field(pattern=ID_PATTERN)]
