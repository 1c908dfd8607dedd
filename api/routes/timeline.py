"""Recorded ranges, gaps and holds of a camera on a day (metadata only, no video)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import AccessDep, CameraId, ContextDep, SessionDep, require
from api.schemas.timeline import GapOut, HoldOut, Range, Timeline
from appliance.access import Permission, Principal
from appliance.errors import NotFound
from appliance.viewing import camera_day

__all__ = ["router"]

router = APIRouter(prefix="/api/timeline", tags=["timeline"])

_Reader = Annotated[Principal, Depends(require(Permission.read_timeline))]


@router.get("/{camera_id}", response_model=Timeline)
def timeline(
    camera_id: CameraId,
    principal: _Reader,
    access: AccessDep,
    ctx: ContextDep,
    session: SessionDep,
    day: Annotated[
        date | None,
        Query(description="Local calendar day (site time zone); default today."),
    ] = None,
) -> Timeline:
    """One camera-day: what is recorded, when the camera was down, what is held."""
    if not any(c.id == camera_id for c, _ in access.cameras_for(principal)):
        raise NotFound(f"no camera {camera_id!r}")
    zone = ctx.settings.zone
    now = ctx.clock.now_ms()
    chosen = day or datetime.fromtimestamp(now / 1000, tz=zone).date()
    result = camera_day(session, camera_id, chosen, zone, now)
    return Timeline(
        camera_id=camera_id,
        day=chosen,
        timezone=ctx.settings.site.timezone,
        from_ms=result.from_ms,
        to_ms=result.to_ms,
        recorded_ms=result.recorded_ms,
        recorded=[Range(start_ms=s, end_ms=e) for s, e in result.recorded],
        gaps=[GapOut(start_ms=s, end_ms=e, reason=r) for s, e, r in result.gaps],
        holds=[HoldOut.model_validate(h) for h in result.holds],
    )
