"""The agency API: police, agencies, courts and the mediation agency, with bearer tokens.

An agency submits a request with its official letter, follows its own requests and notices,
and downloads approved exports. It never browses footage, and another agency's request is a
404 (not a 403), so ids cannot be probed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import RequestsDep, RowId, require
from api.schemas.requests import (
    AgencyCameraOut,
    AgencyEventOut,
    AgencyRequestOut,
    AgencyWithdrawIn,
    DocumentOut,
    ExportOut,
    NoticeOut,
    RequestIn,
)
from api.uploads import multipart_body, read_upload
from appliance.access import Permission, Principal, Scope, roles_with
from appliance.errors import ValidationFailed
from appliance.models import FootageRequest
from appliance.requests import (
    Channel,
    DocumentKind,
    NewRequest,
    RequestService,
    Upload,
    check_agency_submission,
)
from appliance.requests.notices import NOTICE_HEADERS

router = APIRouter(prefix="/api/agency", tags=["agency"])

_AGENCY = roles_with(Permission.agency_api)
_Submitter = Annotated[Principal, Depends(require(*_AGENCY, scopes=[Scope.requests_write]))]
_Follower = Annotated[Principal, Depends(require(*_AGENCY, scopes=[Scope.requests_read]))]
_Downloader = Annotated[Principal, Depends(require(*_AGENCY, scopes=[Scope.exports_read]))]
_CHUNK = 1024**2  # a package streams from disk in pieces of this size


def _out(service: RequestService, request: FootageRequest) -> AgencyRequestOut:
    return AgencyRequestOut.of(request, service.deadline(request))


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
async def submit(
    http_request: Request, principal: _Submitter, service: RequestsDep
) -> AgencyRequestOut:
    """Submit a request with its official letter (R-REQ-1); the footage is held at once."""
    limit = http_request.app.state.ctx.settings.requests.max_document_bytes
    fields, letter = await read_upload(http_request, file_field="letter", max_bytes=limit)
    try:
        body = RequestIn.model_validate(json.loads(fields.get("request", "")))
    except (ValueError, ValidationError) as exc:
        raise ValidationFailed(f"the request field is not a valid request: {exc}") from exc
    check_agency_submission(body.requester_kind, has_letter=letter is not None)
    assert letter is not None
    upload = Upload(DocumentKind.official_letter, letter.filename, letter.content_type, letter.data)
    new = NewRequest(
        **body.model_dump(exclude={"camera_ids"}),
        camera_ids=tuple(body.camera_ids),
        channel=Channel.api,
    )
    # Sealing, the transaction, the hold and the ledger entries block: off the event loop.
    created = await run_in_threadpool(service.receive, principal, new, documents=[upload])
    return _out(service, created)


@router.get("/requests", response_model=list[AgencyRequestOut])
def list_own(principal: _Follower, service: RequestsDep) -> list[AgencyRequestOut]:
    """Your own requests only."""
    return [_out(service, r) for r in service.list_requests(principal)]


@router.get("/requests/{request_id}", response_model=AgencyRequestOut)
def get_own(request_id: RowId, principal: _Follower, service: RequestsDep) -> AgencyRequestOut:
    return _out(service, service.get(principal, request_id))


@router.get("/requests/{request_id}/notices", response_model=list[NoticeOut])
def list_notices(request_id: RowId, principal: _Follower, service: RequestsDep) -> list[NoticeOut]:
    return [NoticeOut.model_validate(n) for n in service.notices(principal, request_id)]


_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "Printable HTML (A4)."}
}


@router.get(
    "/requests/{request_id}/notices/{notice_id}", response_class=HTMLResponse, responses=_HTML
)
def read_notice(
    request_id: RowId,
    notice_id: RowId,
    principal: _Follower,
    service: RequestsDep,
) -> HTMLResponse:
    body = service.notice(principal, request_id, notice_id).body_html
    return HTMLResponse(body, headers=NOTICE_HEADERS)


@router.get("/requests/{request_id}/exports", response_model=list[ExportOut])
def list_exports(request_id: RowId, principal: _Follower, service: RequestsDep) -> list[ExportOut]:
    return [ExportOut.model_validate(e) for e in service.exports(principal, request_id)]


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
    request_id: RowId,
    export_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")],
    principal: _Downloader,
    service: RequestsDep,
) -> Response:
    """Download an approved package (recorded as a provision before the first byte),
    streamed from its file."""
    export, package = service.download_export(principal, request_id, export_id)
    return StreamingResponse(
        _chunks(package),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{export.file}"',
            "Content-Length": str(os.fstat(package.fileno()).st_size),
            "Cache-Control": "no-store",
        },
    )


def _chunks(package: BinaryIO) -> Iterator[bytes]:
    """The open package in pieces (Starlette runs a sync iterator in a worker thread)."""
    with package:
        while chunk := package.read(_CHUNK):
            yield chunk


# -- issue 14: what an agency needs besides submitting (cameras, withdrawal, documents,
#    status changes to poll) ---------------------------------------------------------------


@router.get("/cameras", response_model=list[AgencyCameraOut])
def cameras(principal: _Follower, service: RequestsDep) -> list[AgencyCameraOut]:
    """Every camera's id, name and location, to name in a request (no streams, no footage)."""
    return [AgencyCameraOut.model_validate(c) for c in service.agency_cameras(principal)]


@router.post("/requests/{request_id}/withdraw", response_model=AgencyRequestOut)
def withdraw(
    request_id: RowId, body: AgencyWithdrawIn, principal: _Submitter, service: RequestsDep
) -> AgencyRequestOut:
    """Withdraw your own open request; its hold ends after the grace period."""
    return _out(service, service.withdraw_own(principal, request_id, note=body.note))


@router.post(
    "/requests/{request_id}/documents",
    response_model=DocumentOut,
    status_code=201,
    openapi_extra=multipart_body(
        {
            "kind": {
                "type": "string",
                "enum": [k.value for k in DocumentKind],
                "description": "Default official_letter.",
            },
            "file": {"type": "string", "format": "binary", "description": "Stored encrypted."},
        },
        ["file"],
    ),
)
async def add_document(
    request_id: RowId, http_request: Request, principal: _Submitter, service: RequestsDep
) -> DocumentOut:
    """Add a document (a corrected or further letter ...) to your own open request."""
    limit = http_request.app.state.ctx.settings.requests.max_document_bytes
    fields, upload = await read_upload(http_request, file_field="file", max_bytes=limit)
    try:
        kind = DocumentKind(fields.get("kind") or DocumentKind.official_letter.value)
    except ValueError as exc:
        raise ValidationFailed("kind must be one of the document kinds") from exc
    if upload is None:
        raise ValidationFailed("the file is missing")
    document = Upload(kind, upload.filename, upload.content_type, upload.data)
    return DocumentOut.model_validate(service.attach_own_document(principal, request_id, document))


@router.get("/requests/{request_id}/events", response_model=list[AgencyEventOut])
def events(
    request_id: RowId,
    principal: _Follower,
    service: RequestsDep,
    since: Annotated[
        int, Query(ge=0, le=2**62, description="Only changes after this seq (the last seen).")
    ] = 0,
) -> list[AgencyEventOut]:
    """Status changes of your own request, oldest first; poll with ``since``."""
    changes = service.agency_events(principal, request_id, since_seq=since)
    return [AgencyEventOut.model_validate(e) for e in changes]


__all__ = ["router"]
