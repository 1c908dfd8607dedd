"""Dependencies shared by the routers: the context, a database session, the principal.

Every route also depends on ``require(Role...)`` or ``public`` (``api.security``): deny by default.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import Field
from sqlmodel import Session

from api.security import authenticate, get_access, public, require
from appliance.access import AccessService, Principal
from appliance.context import AppContext
from appliance.requests import RequestService
from appliance.settings import ID_PATTERN

__all__ = [
    "ROW_ID_MAX",
    "AccessDep",
    "CameraField",
    "CameraId",
    "CameraQuery",
    "ContextDep",
    "CurrentPrincipal",
    "RequestsDep",
    "RowId",
    "SessionDep",
    "get_context",
    "get_requests",
    "get_session",
    "public",
    "require",
]


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
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
