"""The officer's mask editor (/requests/{id}/mask) and on-site viewing room
(/requests/{id}/viewing-room), with the JSON routes the editor needs.

The editor sees frames through a playback viewing session opened for the request
(``appliance.requests.mask_desk``: the ledger entry first); it builds the package and records
the hand-over through the requests API (``POST /api/requests/{id}/exports``, ``/handover``).
The room records the on-site viewing through ``POST /api/requests/{id}/onsite-viewing`` with
the copy shown, then plays that copy decrypted in memory (``appliance.requests.onsite``).
Both pages and routes are the officer's (``manage_requests``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import AccessDep, ContextDep, RequestsDep, RowId, ViewingDep, require
from api.schemas.mask import MaskScopeOut, PreviewIn, StillOut, StillsIn
from api.web.pages import LangDep, page_guard, render
from appliance.access import Permission, Principal, roles_with
from appliance.context import AppContext
from appliance.models import FootageRequest, RequestExport
from appliance.requests import RequestKind, approved_scope
from appliance.requests.mask_desk import MaskDesk, mask_refusal
from appliance.requests.onsite import room_refusal
from appliance.requests.workflow import counterpart

__all__ = ["router"]

router = APIRouter(tags=["mask"])

_OfficerPage = Annotated[Principal, Depends(page_guard(Permission.manage_requests))]
_Officer = Annotated[Principal, Depends(require(*roles_with(Permission.manage_requests)))]
_MP4: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
        "description": "An MP4 made in memory (never stored).",
    }
}
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class _Camera:
    id: str
    name: str


@dataclass(frozen=True)
class _Copy:
    id: str
    created: str
    cameras: list[_Camera]
    frames: int
    masked_boxes: int
    handed_over_to: str


def _local(ctx: AppContext, ms: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(ms / 1000, tz=ctx.settings.zone).strftime(fmt)


def _cameras(ctx: AppContext, ids: list[str]) -> list[_Camera]:
    names = {c.id: c.name for c in ctx.settings.cameras}
    return [_Camera(i, names.get(i, i)) for i in ids]


def _copies(ctx: AppContext, rows: list[RequestExport]) -> list[_Copy]:
    return [
        _Copy(
            id=e.id,
            created=_local(ctx, e.created_ms),
            cameras=_cameras(ctx, list(e.camera_ids)),
            frames=e.frames,
            masked_boxes=e.masked_boxes,
            handed_over_to=e.handed_over_to,
        )
        for e in rows
        if e.destroyed_ms is None
    ]


def _summary(ctx: AppContext, request: FootageRequest) -> dict[str, Any]:
    cameras, lo, hi = approved_scope(request)
    return {
        "req": request,
        "requester": counterpart(request),
        "cameras": _cameras(ctx, cameras),
        "range_text": f"{_local(ctx, lo)} – {_local(ctx, hi, '%H:%M:%S')}",
        "timezone": ctx.settings.site.timezone,
        "request_href": f"/requests/{request.id}",
    }


# -- pages ----------------------------------------------------------------------------------


@router.get("/requests/{request_id}/mask", response_class=HTMLResponse, include_in_schema=False)
def mask_page(
    http_request: Request,
    request_id: RowId,
    principal: _OfficerPage,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
    service: RequestsDep,
) -> HTMLResponse:
    """Draw masks on sample frames, preview, build the package, record the hand-over."""
    request = service.get(principal, request_id)
    return render(
        http_request,
        "mask.html",
        lang,
        ctx,
        access,
        principal,
        **_summary(ctx, request),
        refusal=mask_refusal(request),
        copies=_copies(ctx, service.exports(principal, request_id)),
        is_viewing=request.kind == RequestKind.viewing.value,
        room_href=f"/requests/{request_id}/viewing-room",
    )


@router.get(
    "/requests/{request_id}/viewing-room", response_class=HTMLResponse, include_in_schema=False
)
def viewing_room_page(
    http_request: Request,
    request_id: RowId,
    principal: _OfficerPage,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
    service: RequestsDep,
) -> HTMLResponse:
    """Play the masked copy to the requester on this screen; starting records the viewing."""
    request = service.get(principal, request_id)
    rows = service.room_copies(principal, request_id)
    return render(
        http_request,
        "viewing_room.html",
        lang,
        ctx,
        access,
        principal,
        **_summary(ctx, request),
        refusal=room_refusal(request, rows),
        copies=_copies(ctx, rows),
        already=request.fulfilment == "onsite_viewing",
        officer_default=request.officer or principal.username,
        place_default=request.viewing_place or ctx.settings.site.viewing_place,
        mask_href=f"/requests/{request_id}/mask",
    )


# -- the editor's JSON routes ----------------------------------------------------------------


@router.post(
    "/api/requests/{request_id}/mask/viewing", response_model=MaskScopeOut, status_code=201
)
def open_mask_viewing(
    request_id: RowId,
    principal: _Officer,
    ctx: ContextDep,
    viewing: ViewingDep,
) -> MaskScopeOut:
    """Open the playback session the editor sees frames through (ledger entry first)."""
    return MaskScopeOut.of(MaskDesk(ctx, viewing).open(principal, request_id))


@router.post("/api/requests/{request_id}/mask/stills", response_model=list[StillOut])
def mask_stills(
    request_id: RowId,
    body: StillsIn,
    principal: _Officer,
    ctx: ContextDep,
    viewing: ViewingDep,
) -> list[StillOut]:
    """Sample frames of one camera, one per span of the approved range, with detections."""
    stills = MaskDesk(ctx, viewing).stills(
        principal,
        request_id,
        body.viewing_id,
        body.camera_id,
        count=body.count,
        plan=body.plan(),
    )
    return [StillOut.of(s) for s in stills]


@router.post("/api/requests/{request_id}/mask/preview", response_class=Response, responses=_MP4)
def mask_preview(
    request_id: RowId,
    body: PreviewIn,
    principal: _Officer,
    ctx: ContextDep,
    viewing: ViewingDep,
) -> Response:
    """A few seconds masked as the package would be (an MP4 made in memory)."""
    mp4 = MaskDesk(ctx, viewing).preview(
        principal,
        request_id,
        body.viewing_id,
        body.camera_id,
        start_ms=body.start_ms,
        seconds=body.seconds,
        plan=body.plan(),
    )
    return Response(mp4, media_type="video/mp4", headers=_NO_STORE)


@router.get(
    "/api/requests/{request_id}/viewing-room/{export_id}/video",
    response_class=Response,
    responses=_MP4,
)
def viewing_room_video(
    request_id: RowId,
    export_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
    principal: _Officer,
    service: RequestsDep,
    index: Annotated[int, Query(ge=0, le=63)] = 0,
) -> Response:
    """One video of the masked copy, decrypted in memory, after its viewing is recorded."""
    shown = service.play_room_copy(principal, request_id, export_id, index)
    return Response(shown.mp4, media_type="video/mp4", headers=_NO_STORE)
