"""Requests, for the video protection officer: receipt, identity check, decision, notices,
on-site viewing, masked exports, hand-over, deletion, closure, and the deadline lists.

Writes need ``manage_requests`` (the officer); reads ``read_requests`` (also the auditor:
requests hold personal data, not video). ``RequestService`` checks the same permissions.
Bodies and responses: ``api.schemas.requests``; uploads: ``api.uploads``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import ContextDep, RequestsDep, RowId, require
from api.schemas.requests import (
    CloseIn,
    DeadlinesOut,
    DecisionIn,
    DeletionOut,
    DocumentOut,
    ExportIn,
    ExportJobOut,
    ExportOut,
    ExportQueued,
    FeeIn,
    HandoverIn,
    HoldNarrowIn,
    HoldOut,
    HoldReleaseIn,
    IdentityIn,
    NoticeIn,
    NoticeOut,
    OnsiteViewingIn,
    ProposalOut,
    RequestOut,
    StaffRequestIn,
)
from api.uploads import multipart_body, read_upload
from appliance.access import Permission, Principal, roles_with
from appliance.errors import ValidationFailed
from appliance.export.jobs import ExportJob, export_jobs
from appliance.models import FootageRequest
from appliance.requests import (
    DeadlineStatus,
    DecisionInput,
    DocumentKind,
    NewRequest,
    RequestService,
    RequestState,
    Upload,
    approved_scope,
)
from appliance.requests.copies import queue_export
from appliance.requests.notices import NOTICE_HEADERS

__all__ = ["router"]

router = APIRouter(prefix="/api/requests", tags=["requests"])

_Officer = Annotated[Principal, Depends(require(*roles_with(Permission.manage_requests)))]
_Reader = Annotated[Principal, Depends(require(*roles_with(Permission.read_requests)))]
_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "Printable HTML (A4)."}
}
_BINARY: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The file.",
    }
}


@router.post("", response_model=RequestOut, status_code=201)
def receive(body: StaffRequestIn, principal: _Officer, service: RequestsDep) -> RequestOut:
    """Record a request received at the desk, by mail, e-mail or fax; its footage is held."""
    new = NewRequest(**body.model_dump(exclude={"camera_ids"}), camera_ids=tuple(body.camera_ids))
    return _out(service, service.receive(principal, new))


@router.get("", response_model=list[RequestOut])
def list_requests(
    principal: _Reader,
    service: RequestsDep,
    state: RequestState | None = None,
    open_only: bool = False,
) -> list[RequestOut]:
    return [
        _out(service, r) for r in service.list_requests(principal, state=state, open_only=open_only)
    ]


@router.get("/deadlines", response_model=DeadlinesOut)
def deadlines(principal: _Reader, service: RequestsDep) -> DeadlinesOut:
    """Overdue and due-soon requests (nothing overdue goes unnoticed), with counts."""
    report = service.deadlines(principal)
    counts = {status.value: len(report.with_status(status)) for status in DeadlineStatus}
    counts["open_requests"] = len(report.entries)
    return DeadlinesOut(
        now_ms=report.now_ms,
        overdue=[_out(service, e.request) for e in report.overdue],
        due_soon=[_out(service, e.request) for e in report.due_soon],
        counts=counts,
    )


@router.get("/{request_id}", response_model=RequestOut)
def get_request(request_id: RowId, principal: _Reader, service: RequestsDep) -> RequestOut:
    return _out(service, service.get(principal, request_id))


@router.post(
    "/{request_id}/documents",
    response_model=DocumentOut,
    status_code=201,
    openapi_extra=multipart_body(
        {
            "kind": {"type": "string", "enum": [k.value for k in DocumentKind]},
            "file": {"type": "string", "format": "binary", "description": "Stored encrypted."},
        },
        ["kind", "file"],
    ),
)
async def upload_document(
    request_id: RowId, http_request: Request, principal: _Officer, service: RequestsDep
) -> DocumentOut:
    """Attach a document (ID copy, power of attorney, consent ...); kept encrypted."""
    limit = http_request.app.state.ctx.settings.requests.max_document_bytes
    fields, upload = await read_upload(http_request, file_field="file", max_bytes=limit)
    try:
        kind = DocumentKind(fields.get("kind", ""))
    except ValueError as exc:
        raise ValidationFailed("kind must be one of the document kinds") from exc
    if upload is None:
        raise ValidationFailed("the file is missing")
    upload = Upload(kind, upload.filename, upload.content_type, upload.data)
    # Sealing, the transaction and its ledger entry block: off the event loop.
    stored = await run_in_threadpool(service.attach_document, principal, request_id, upload)
    return DocumentOut.model_validate(stored)


@router.get("/{request_id}/documents", response_model=list[DocumentOut])
def list_documents(
    request_id: RowId, principal: _Officer, service: RequestsDep
) -> list[DocumentOut]:
    return [DocumentOut.model_validate(d) for d in service.documents(principal, request_id)]


@router.get("/{request_id}/documents/{document_id}", responses=_BINARY)
def read_document(
    request_id: RowId,
    document_id: RowId,
    principal: _Officer,
    service: RequestsDep,
) -> Response:
    """The document, decrypted in memory (needs the unlocked vault)."""
    document, data = service.read_document(principal, request_id, document_id)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.filename)}",
        },
    )


@router.get("/{request_id}/hold", response_model=HoldOut)
def get_hold(request_id: RowId, principal: _Reader, service: RequestsDep) -> HoldOut:
    """What the request's hold protects from the purge now."""
    return HoldOut.of(service.hold(principal, request_id))


@router.post("/{request_id}/hold/narrow", response_model=HoldOut)
def narrow_hold(
    request_id: RowId, body: HoldNarrowIn, principal: _Officer, service: RequestsDep
) -> HoldOut:
    """Keep fewer cameras or a shorter range held (never more); the rest follows retention."""
    view = service.narrow_hold(
        principal,
        request_id,
        camera_ids=body.camera_ids,
        start_ms=body.start_ms,
        end_ms=body.end_ms,
        reason=body.reason,
    )
    return HoldOut.of(view)


@router.post("/{request_id}/hold/release", response_model=HoldOut)
def release_hold(
    request_id: RowId, body: HoldReleaseIn, principal: _Officer, service: RequestsDep
) -> HoldOut:
    """Release the request's hold now, with the reason (its footage follows retention)."""
    return HoldOut.of(service.release_hold(principal, request_id, reason=body.reason))


@router.post("/{request_id}/identity", response_model=RequestOut)
def verify_identity(
    request_id: RowId, body: IdentityIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    """Record how identity and authority were checked (R-REQ-2)."""
    request = service.verify_identity(principal, request_id, **body.model_dump())
    return _out(service, request)


@router.get("/{request_id}/proposal", response_model=ProposalOut)
def propose(request_id: RowId, principal: _Officer, service: RequestsDep) -> ProposalOut:
    """The decision the stored footage suggests (destroyed footage: refusal citing records)."""
    return ProposalOut.model_validate(service.propose(principal, request_id))


@router.post("/{request_id}/decision", response_model=RequestOut)
def decide(
    request_id: RowId, body: DecisionIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    values = body.model_dump()
    values["approved_camera_ids"] = tuple(values["approved_camera_ids"])
    values["destruction_refs"] = tuple(values["destruction_refs"])
    request = service.decide(principal, request_id, DecisionInput(**values))
    return _out(service, request)


@router.get("/{request_id}/notice-preview", response_class=HTMLResponse, responses=_HTML)
def preview_notice(request_id: RowId, principal: _Officer, service: RequestsDep) -> HTMLResponse:
    return HTMLResponse(service.preview_notice(principal, request_id), headers=NOTICE_HEADERS)


@router.post("/{request_id}/notices", response_model=NoticeOut, status_code=201)
def notify(
    request_id: RowId, body: NoticeIn, principal: _Officer, service: RequestsDep
) -> NoticeOut:
    """Send the notice of the decision (recorded with its channel; stops the 10-day clock)."""
    return NoticeOut.model_validate(service.notify(principal, request_id, channel=body.channel))


@router.get("/{request_id}/notices", response_model=list[NoticeOut])
def list_notices(request_id: RowId, principal: _Reader, service: RequestsDep) -> list[NoticeOut]:
    return [NoticeOut.model_validate(n) for n in service.notices(principal, request_id)]


@router.get("/{request_id}/notices/{notice_id}", response_class=HTMLResponse, responses=_HTML)
def read_notice(
    request_id: RowId,
    notice_id: RowId,
    principal: _Reader,
    service: RequestsDep,
) -> HTMLResponse:
    body = service.notice(principal, request_id, notice_id).body_html
    return HTMLResponse(body, headers=NOTICE_HEADERS)


@router.post("/{request_id}/onsite-viewing", response_model=RequestOut)
def onsite_viewing(
    request_id: RowId, body: OnsiteViewingIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    """The requester viewed the footage on premises with the officer present (R-REQ-6)."""
    request = service.record_onsite_viewing(principal, request_id, **body.model_dump())
    return _out(service, request)


@router.post("/{request_id}/exports", response_model=ExportQueued, status_code=202)
def create_export(
    request_id: RowId,
    body: ExportIn,
    principal: _Officer,
    service: RequestsDep,
    ctx: ContextDep,
    response: Response,
) -> ExportQueued:
    """Queue a masked, signed, encrypted package of the approved footage (R-REQ-5).

    Built by the export worker, one at a time (429 when the queue is full); follow it at
    ``/exports/jobs/{job_id}``. The passphrase is shown here, once.
    """
    request = service.get(principal, request_id)
    cameras, _start, _end = approved_scope(request)
    plan, plans = body.plans(cameras)
    job, passphrase, generated = queue_export(
        export_jobs(ctx),
        service,
        principal,
        request,
        plan=plan,
        plans=plans,
        passphrase=body.passphrase,
    )
    response.headers["Location"] = f"/api/requests/{request_id}/exports/jobs/{job.id}"
    return ExportQueued(
        job=_job_out(service, principal, job),
        passphrase=passphrase,
        passphrase_generated=generated,
    )


@router.get("/{request_id}/exports/jobs", response_model=list[ExportJobOut])
def list_export_jobs(
    request_id: RowId, principal: _Officer, service: RequestsDep, ctx: ContextDep
) -> list[ExportJobOut]:
    """The export jobs of a request this process knows (queued, building, recently finished)."""
    service.get(principal, request_id)
    return [_job_out(service, principal, j) for j in export_jobs(ctx).of_request(request_id)]


@router.get("/{request_id}/exports/jobs/{job_id}", response_model=ExportJobOut)
def get_export_job(
    request_id: RowId,
    job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    principal: _Officer,
    service: RequestsDep,
    ctx: ContextDep,
) -> ExportJobOut:
    """One export job: its state and progress; when done, the export it made."""
    service.get(principal, request_id)
    return _job_out(service, principal, export_jobs(ctx).get(job_id, request_id))


def _job_out(service: RequestService, principal: Principal, job: ExportJob) -> ExportJobOut:
    out = ExportJobOut.model_validate(job)
    if job.export_id is not None:
        made = [e for e in service.exports(principal, job.request_id) if e.id == job.export_id]
        out.export = ExportOut.model_validate(made[0]) if made else None
    return out


@router.get("/{request_id}/exports", response_model=list[ExportOut])
def list_exports(request_id: RowId, principal: _Reader, service: RequestsDep) -> list[ExportOut]:
    return [ExportOut.model_validate(e) for e in service.exports(principal, request_id)]


@router.post("/{request_id}/handover", response_model=RequestOut)
def hand_over(
    request_id: RowId, body: HandoverIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    """The copy was handed over in person (a provision in the management ledger)."""
    request = service.hand_over(
        principal, request_id, body.export_id, recipient=body.recipient, form=body.form
    )
    return _out(service, request)


@router.post("/{request_id}/deletion", response_model=DeletionOut)
def execute_deletion(request_id: RowId, principal: _Officer, service: RequestsDep) -> DeletionOut:
    """Destroy the approved footage (R-REQ-7); refused while another hold or a legal minimum
    protects it."""
    result = service.execute_deletion(principal, request_id)
    return DeletionOut(
        segments=result.segments, size_bytes=result.size_bytes, destruction_ids=result.record_ids
    )


@router.post("/{request_id}/existence-answered", response_model=RequestOut)
def existence_answered(request_id: RowId, principal: _Officer, service: RequestsDep) -> RequestOut:
    return _out(service, service.answer_existence(principal, request_id))


@router.post("/{request_id}/fee", response_model=RequestOut)
def record_fee(
    request_id: RowId, body: FeeIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    """The fee charged (actual cost only, R-REQ-8)."""
    request = service.record_fee(principal, request_id, body.fee_krw, body.note)
    return _out(service, request)


@router.post("/{request_id}/close", response_model=RequestOut)
def close(
    request_id: RowId, body: CloseIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    """Close (or withdraw); the hold is released after requests.hold_grace_days."""
    request = service.close(principal, request_id, note=body.note, withdrawn=body.withdrawn)
    return _out(service, request)


def _out(service: RequestService, request: FootageRequest) -> RequestOut:
    return RequestOut.of(request, service.deadline(request))
