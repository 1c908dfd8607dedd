"""Liveness: the only route besides the login page that needs no principal."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import ContextDep
from appliance import __version__

__all__ = ["router"]

router = APIRouter(prefix="/api/health", tags=["health"])


class Health(BaseModel):
    status: str
    version: str


@router.get("", response_model=Health, openapi_extra={"x-public": True})
def health(ctx: ContextDep) -> Health:
    """Whether the service and its database answer."""
    with ctx.db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__)
