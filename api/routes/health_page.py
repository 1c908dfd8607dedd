"""The health page (/health), its JSON (``GET /api/health/status``, polled by the page), the
open alarms for the header (``GET /api/alarms``) and acknowledging one
(``POST /api/alarms/{alarm_id}/acknowledge``). Thin: ``appliance.health`` computes and records.

Status only, never video (no still image either: that would be a viewing of footage).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.deps import AccessDep, ContextDep, RowId, require
from api.schemas.health import AcknowledgeIn, AlarmOut, AlarmsOut, HealthOut, alarm_out, health_out
from api.web.pages import LangDep, page_guard, render
from appliance.access import Permission, Principal
from appliance.health import acknowledge_alarm, alarm_views, health_status

__all__ = ["router"]

router = APIRouter(tags=["health"])

_Reader = Annotated[Principal, Depends(require(Permission.read_health))]
_PageReader = Annotated[Principal, Depends(page_guard(Permission.read_health))]
_Actor = Annotated[Principal, Depends(require(Permission.acknowledge_alarms))]


@router.get("/health", response_class=HTMLResponse, include_in_schema=False)
def health_page(
    request: Request, principal: _PageReader, lang: LangDep, ctx: ContextDep, access: AccessDep
) -> HTMLResponse:
    """The box at a glance: cameras, storage, vault, ledger, purge, alarms (refreshed live)."""
    return render(request, "health.html", lang, ctx, access, principal)


@router.get("/api/health/status", response_model=HealthOut)
def status(principal: _Reader, ctx: ContextDep) -> HealthOut:
    """Every camera's state and rates, storage, vault, ledger, purge lag, alarms, deliveries."""
    return health_out(
        health_status(ctx), can_acknowledge=principal.can(Permission.acknowledge_alarms)
    )


@router.get("/api/alarms", response_model=AlarmsOut)
def open_alarms(principal: _Actor, ctx: ContextDep) -> AlarmsOut:
    """The open alarms, oldest first, with their acknowledgements (the pages' header)."""
    with ctx.db.session() as session:
        return AlarmsOut(alarms=[alarm_out(a) for a in alarm_views(session)])


@router.post("/api/alarms/{alarm_id}/acknowledge", response_model=AlarmOut)
def acknowledge(
    alarm_id: RowId, body: AcknowledgeIn, principal: _Actor, ctx: ContextDep
) -> AlarmOut:
    """Acknowledge an open alarm with a note (ledgered); it stays open until its cause ends."""
    with ctx.db.session() as session:
        acknowledge_alarm(session, ctx.ledger, principal, alarm_id, body.note, ctx.clock.now_ms())
    with ctx.db.session() as session:
        return next(alarm_out(a) for a in alarm_views(session) if a.id == alarm_id)
