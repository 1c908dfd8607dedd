"""Dependencies shared by the routers: the context, a database session, the principal.

Every route also depends on ``require(Role...)`` or ``public`` (``api.security``): deny by default.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from api.security import authenticate, get_access, public, require
from appliance.access import AccessService, Principal
from appliance.context import AppContext

__all__ = [
    "AccessDep",
    "ContextDep",
    "CurrentPrincipal",
    "SessionDep",
    "get_context",
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

# Who is asking; a route still needs ``require(...)`` to say which roles it admits.
CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
