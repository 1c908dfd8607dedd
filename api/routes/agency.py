"""The agency API: police, agencies, courts and the mediation agency, with bearer tokens.

An agency submits a request with its official letter, follows its own requests and notices,
and downloads approved exports. It never browses footage, and another agency's request is a
404 (not a 403), so ids cannot be probed.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from api.routes.requests import (
    ExportOut,
    NoticeOut,
    RequestId,
    RequestIn,
    RequestsDep,
    export_out,
    multipart_body,
    notice_out,
    read_upload,
    request_out,
)
from api.security import require
from appliance.access import Principal, Scope
from appliance.errors import ValidationFailed
from appliance.models import FootageRequest, Role
from appliance.requests import (
    AGENCY_KINDS,
    Channel,
    DeadlineStatus,
    Decision,
    DocumentKind,
    NewRequest,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestService,
    RequestState,
    Upload,
)

router = APIRouter(prefix="/api/agency", tags=["agency"])

_Submitter = Annotated[Principal, Depends(require(Role.agency, scopes=[Scope.requests_write]))]
_Follower = Annotated[Principal, Depends(require(Role.agency, scopes=[Scope.requests_read]))]
_Downloader = Annotated[Principal, Depends(require(Role.agency, scopes=[Scope.exports_read]))]


class AgencyRequestOut(BaseModel):
    """What an agency sees of its own request."""

    id: int
    kind: RequestKind
    state: RequestState
    requester_kind: RequesterKind
    requester_name: str
    requester_org: str
    letter_reference: str
    camera_ids: list[str]
    start_ms: int
    end_ms: int
    received_ms: int
    due_ms: int
    deadline_status: DeadlineStatus
    decision: Decision | None
    decision_reason: str
    refusal_ground: RefusalGround | None
    approved_camera_ids: list[str]
    approved_start_ms: int | None
    approved_end_ms: int | None
    notified_ms: int | None
    fulfilment: str | None
    closed_ms: int | None


def _out(service: RequestService, request: FootageRequest) -> AgencyRequestOut:
    # The officer's view of the request, cut down to the fields an agency sees.
    shown = request_out(service, request).model_dump(include=set(AgencyRequestOut.model_fields))
    return AgencyRequestOut.model_validate(shown)


_PAYLOAD_HELP = (
    "The request as JSON: kind, requester_kind (police, agency, court or mediation), "
    "requester_name, requester_org, requester_contact, subject_description, purpose, "
    "legal_basis, letter_reference, camera_ids, start_ms, end_ms."
)


@router.post(
    "/requests",
    response_model=AgencyRequestOut,
    status_code=201,
    openapi_extra=multipart_body(
        {
            "request": {"type": "string", "description": _PAYLOAD_HELP},
            "letter": {
                "type": "string",
                "format": "binary",
                "description": "The official letter (stored encrypted).",
            },
        },
        ["request", "letter"],
    ),
)
async def submit(http: Request, principal: _Submitter, service: RequestsDep) -> AgencyRequestOut:
    """Submit a request with its official letter (R-REQ-1); the footage is held at once."""
    limit = http.app.state.ctx.settings.requests.max_document_bytes
    fields, letter = await read_upload(http, file_field="letter", max_bytes=limit)
    try:
        body = RequestIn.model_validate(json.loads(fields.get("request", "")))
    except (ValueError, ValidationError) as exc:
        raise ValidationFailed(f"the request field is not a valid request: {exc}") from exc
    if body.requester_kind not in AGENCY_KINDS:
        raise ValidationFailed("requester_kind must be police, agency, court or mediation")
    if letter is None:
        raise ValidationFailed("attach the official letter (R-REQ-1)")
    upload = Upload(DocumentKind.official_letter, letter.filename, letter.content_type, letter.data)
    new = NewRequest(
        **body.model_dump(exclude={"camera_ids"}),
        camera_ids=tuple(body.camera_ids),
        channel=Channel.api,
    )
    created = service.receive(
        new, actor=principal.actor, agency_user_id=principal.user_id, documents=[upload]
    )
    return _out(service, created)


@router.get("/requests", response_model=list[AgencyRequestOut])
def list_own(principal: _Follower, service: RequestsDep) -> list[AgencyRequestOut]:
    """Your own requests only."""
    return [_out(service, r) for r in service.list_requests(agency_user_id=principal.user_id)]


@router.get("/requests/{request_id}", response_model=AgencyRequestOut)
def get_own(request_id: RequestId, principal: _Follower, service: RequestsDep) -> AgencyRequestOut:
    return _out(service, service.get(request_id, agency_user_id=principal.user_id))


@router.get("/requests/{request_id}/notices", response_model=list[NoticeOut])
def list_notices(
    request_id: RequestId, principal: _Follower, service: RequestsDep
) -> list[NoticeOut]:
    return [notice_out(n) for n in service.notices(request_id, agency_user_id=principal.user_id)]


_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "Printable HTML (A4)."}
}


@router.get(
    "/requests/{request_id}/notices/{notice_id}", response_class=HTMLResponse, responses=_HTML
)
def read_notice(
    request_id: RequestId,
    notice_id: Annotated[int, Path(ge=1, le=2**31)],
    principal: _Follower,
    service: RequestsDep,
) -> str:
    return service.notice(request_id, notice_id, agency_user_id=principal.user_id).body_html


@router.get("/requests/{request_id}/exports", response_model=list[ExportOut])
def list_exports(
    request_id: RequestId, principal: _Follower, service: RequestsDep
) -> list[ExportOut]:
    return [export_out(e) for e in service.exports(request_id, agency_user_id=principal.user_id)]


@router.get(
    "/requests/{request_id}/exports/{export_id}",
    responses={
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "description": "The encrypted, signed package; its passphrase comes separately.",
        }
    },
)
def download_export(
    request_id: RequestId,
    export_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")],
    principal: _Downloader,
    service: RequestsDep,
) -> Response:
    """Download an approved package (recorded as a provision before the first byte)."""
    export, data = service.download_export(
        request_id, export_id, agency_user_id=principal.user_id, actor=principal.actor
    )
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{export.file}"',
            "Cache-Control": "no-store",
        },
    )


__all__ = ["router"]
