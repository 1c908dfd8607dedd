"""Requests, for the video protection officer: receipt, identity check, decision, notices,
on-site viewing, masked exports, hand-over, deletion, closure, and the deadline lists.

Writes admit the officer only; the auditor may read (requests hold personal data, not video).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from starlette.formparsers import MultiPartException, MultiPartParser

from api.security import require
from appliance.access import Principal
from appliance.errors import ValidationFailed
from appliance.export.masking import MaskingOptions, MaskMethod, MaskPlan
from appliance.export.regions import NormRect, Region
from appliance.models import FootageRequest, RequestDocument, RequestExport, RequestNotice, Role
from appliance.requests import (
    Channel,
    DeadlineStatus,
    Decision,
    DecisionInput,
    DocumentKind,
    NewRequest,
    Proposal,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestService,
    RequestState,
    Upload,
)

router = APIRouter(prefix="/api/requests", tags=["requests"])

_Officer = Annotated[Principal, Depends(require(Role.officer))]
_Reader = Annotated[Principal, Depends(require(Role.officer, Role.auditor))]
RequestId = Annotated[int, Path(ge=1, le=2**31)]
_CAMERA = r"^[a-z0-9][a-z0-9_-]{0,62}$"
#: 2100-01-01 UTC: times beyond it are typing errors (and would not format on a notice).
MAX_MS = 4_102_444_800_000
_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "Printable HTML (A4)."}
}
_BINARY: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The file.",
    }
}


def get_requests(request: Request) -> RequestService:
    return RequestService(request.app.state.ctx)


RequestsDep = Annotated[RequestService, Depends(get_requests)]


class _InMemoryParser(MultiPartParser):
    # Starlette spools uploads above 1 MiB to a temporary file, in clear. Documents (ID
    # copies, official letters) stay in memory instead; the body size is capped below this.
    spool_max_size = 64 * 1024 * 1024


async def _capped(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise ValidationFailed(f"the upload exceeds {limit} bytes")
        yield chunk


async def read_upload(
    request: Request, *, file_field: str, max_bytes: int
) -> tuple[dict[str, str], Upload | None]:
    """Parse a multipart body in memory: its text fields and its one file (not yet typed)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ValidationFailed("send multipart/form-data")
    limit = min(max_bytes + 256 * 1024, _InMemoryParser.spool_max_size)
    parser = _InMemoryParser(
        request.headers,
        _capped(request.stream(), limit),
        max_files=1,
        max_fields=8,
        max_part_size=64 * 1024,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ValidationFailed(f"bad multipart body: {exc.message}") from exc
    fields: dict[str, str] = {}
    upload: Upload | None = None
    try:
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields[key] = value
            elif key == file_field:
                data = await value.read()
                upload = Upload(
                    DocumentKind.other, value.filename or "document", value.content_type or "", data
                )
    finally:
        await form.close()
    return fields, upload


def multipart_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads its multipart form itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": properties, "required": required}
                }
            },
        }
    }


# -- bodies ---------------------------------------------------------------------------------


class RequestIn(BaseModel):
    kind: RequestKind
    requester_kind: RequesterKind
    requester_name: str = Field(min_length=1, max_length=200)
    requester_org: str = Field(default="", max_length=200)
    requester_contact: str = Field(default="", max_length=300)
    subject_description: str = Field(
        default="", max_length=1000, description="Whose images, and how to recognise them."
    )
    purpose: str = Field(default="", max_length=1000)
    legal_basis: str = Field(default="", max_length=300)
    letter_reference: str = Field(
        default="", max_length=200, description="Official letter number (agencies, R-REQ-1)."
    )
    camera_ids: list[Annotated[str, Field(pattern=_CAMERA)]] = Field(min_length=1, max_length=64)
    start_ms: int = Field(ge=0, le=MAX_MS)
    end_ms: int = Field(ge=0, le=MAX_MS)


class StaffRequestIn(RequestIn):
    channel: Channel = Channel.in_person
    received_ms: int | None = Field(
        default=None, ge=0, le=MAX_MS, description="When it arrived (default: now)."
    )


class RequestOut(BaseModel):
    id: int
    kind: RequestKind
    state: RequestState
    channel: Channel
    requester_kind: RequesterKind
    requester_name: str
    requester_org: str
    requester_contact: str
    subject_description: str
    purpose: str
    legal_basis: str
    letter_reference: str
    camera_ids: list[str]
    start_ms: int
    end_ms: int
    received_ms: int
    received_by: str
    due_ms: int = Field(description="The notice is due before this moment (10 days, R-REQ-3).")
    deadline_status: DeadlineStatus
    deadline_ms: int | None
    hold_id: int | None
    id_document: str
    id_checked_by: str
    id_checked_ms: int | None
    decision: Decision | None
    decision_reason: str
    refusal_ground: RefusalGround | None
    destruction_refs: list[int]
    approved_camera_ids: list[str]
    approved_start_ms: int | None
    approved_end_ms: int | None
    viewing_ms: int | None
    viewing_place: str
    officer: str
    postponed_until_ms: int | None
    notified_ms: int | None
    notice_channel: str
    fulfilment: str | None
    fulfilled_ms: int | None
    officer_present: str
    fee_krw: int
    closed_ms: int | None


def request_out(service: RequestService, request: FootageRequest) -> RequestOut:
    status, deadline = service.deadline(request)
    assert request.id is not None
    return RequestOut(
        id=request.id,
        kind=RequestKind(request.kind),
        state=RequestState(request.state),
        channel=Channel(request.channel),
        requester_kind=RequesterKind(request.requester_kind),
        requester_name=request.requester_name,
        requester_org=request.requester_org,
        requester_contact=request.requester_contact,
        subject_description=request.subject_description,
        purpose=request.purpose,
        legal_basis=request.legal_basis,
        letter_reference=request.letter_reference,
        camera_ids=list(request.camera_ids),
        start_ms=request.start_ms,
        end_ms=request.end_ms,
        received_ms=request.received_ms,
        received_by=request.received_by,
        due_ms=request.due_ms,
        deadline_status=status,
        deadline_ms=deadline,
        hold_id=request.hold_id,
        id_document=request.id_document,
        id_checked_by=request.id_checked_by,
        id_checked_ms=request.id_checked_ms,
        decision=Decision(request.decision) if request.decision else None,
        decision_reason=request.decision_reason,
        refusal_ground=RefusalGround(request.refusal_ground) if request.refusal_ground else None,
        destruction_refs=list(request.destruction_refs),
        approved_camera_ids=list(request.approved_camera_ids),
        approved_start_ms=request.approved_start_ms,
        approved_end_ms=request.approved_end_ms,
        viewing_ms=request.viewing_ms,
        viewing_place=request.viewing_place,
        officer=request.officer,
        postponed_until_ms=request.postponed_until_ms,
        notified_ms=request.notified_ms,
        notice_channel=request.notice_channel,
        fulfilment=request.fulfilment,
        fulfilled_ms=request.fulfilled_ms,
        officer_present=request.officer_present,
        fee_krw=request.fee_krw,
        closed_ms=request.closed_ms,
    )


class IdentityIn(BaseModel):
    id_document: str = Field(min_length=1, max_length=200, description="e.g. 주민등록증, 공문.")
    checked_by: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=500)
    consent_ref: str = Field(
        default="", max_length=300, description="Every data subject's consent (R-REQ-9)."
    )


class DecisionIn(BaseModel):
    decision: Decision
    reason: str = Field(default="", max_length=2000)
    ground: RefusalGround | None = None
    viewing_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    viewing_place: str = Field(default="", max_length=300)
    officer: str = Field(default="", max_length=200)
    postponed_until_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    approved_camera_ids: list[Annotated[str, Field(pattern=_CAMERA)]] = Field(
        default_factory=list, max_length=64
    )
    approved_start_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    approved_end_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    destruction_refs: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(
        default_factory=list, max_length=1000
    )
    fee_krw: int = Field(default=0, ge=0, le=10**9)


class ProposalOut(BaseModel):
    decision: Decision
    ground: RefusalGround | None
    reason: str
    approved_camera_ids: list[str]
    destruction_refs: list[int]
    notes: list[str]


def proposal_out(proposal: Proposal) -> ProposalOut:
    return ProposalOut(
        decision=proposal.decision,
        ground=proposal.ground,
        reason=proposal.reason,
        approved_camera_ids=list(proposal.approved_camera_ids),
        destruction_refs=list(proposal.destruction_refs),
        notes=list(proposal.notes),
    )


class NoticeIn(BaseModel):
    channel: Channel


class NoticeOut(BaseModel):
    id: int
    request_id: int
    kind: Decision
    sent_ms: int
    channel: Channel
    created_by: str


def notice_out(notice: RequestNotice) -> NoticeOut:
    assert notice.id is not None
    return NoticeOut(
        id=notice.id,
        request_id=notice.request_id,
        kind=Decision(notice.kind),
        sent_ms=notice.sent_ms,
        channel=Channel(notice.channel),
        created_by=notice.created_by,
    )


class OnsiteViewingIn(BaseModel):
    officer_present: str = Field(min_length=1, max_length=200)
    witness: str = Field(default="", max_length=200)
    masked: bool = Field(default=True, description="Others in the footage were masked (R-REQ-5).")
    note: str = Field(default="", max_length=500)


class RegionIn(BaseModel):
    """A rectangle in normalised coordinates (0..1), optionally for one camera and a time."""

    x: float = Field(ge=0, lt=1)
    y: float = Field(ge=0, lt=1)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)
    camera_id: str | None = Field(default=None, pattern=_CAMERA)
    start_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    end_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    label: str = Field(default="", max_length=200)

    def region(self) -> Region:
        return Region(
            NormRect(self.x, self.y, self.w, self.h), self.start_ms, self.end_ms, self.label
        )


class ExportIn(BaseModel):
    passphrase: str | None = Field(
        default=None,
        min_length=12,
        max_length=200,
        description="Transport passphrase; if absent one is generated and shown once.",
    )
    regions: list[RegionIn] = Field(
        default_factory=list, max_length=100, description="Extra areas to mask."
    )
    exemptions: list[RegionIn] = Field(
        default_factory=list, max_length=20, description="The data subject's area, shown as is."
    )
    faces: bool = True
    people: bool = True
    method: MaskMethod = MaskMethod.pixelate

    def plans(self, camera_ids: list[str]) -> tuple[MaskPlan, dict[str, MaskPlan]]:
        options = MaskingOptions(faces=self.faces, people=self.people, method=self.method)

        def plan_for(camera_id: str | None) -> MaskPlan:
            return MaskPlan(
                officer_regions=tuple(
                    r.region() for r in self.regions if r.camera_id in (None, camera_id)
                ),
                exemptions=tuple(
                    r.region() for r in self.exemptions if r.camera_id in (None, camera_id)
                ),
                options=options,
            )

        return plan_for(None), {c: plan_for(c) for c in camera_ids}


class ExportOut(BaseModel):
    id: str
    request_id: int
    camera_ids: list[str]
    start_ms: int
    end_ms: int
    size_bytes: int
    blake2b_hex: str
    frames: int
    masked_boxes: int
    created_ms: int
    created_by: str
    handed_over_ms: int | None
    handed_over_to: str
    downloads: int


def export_out(export: RequestExport) -> ExportOut:
    return ExportOut(**export.model_dump(exclude={"file"}))


class ExportCreated(ExportOut):
    passphrase: str = Field(description="Shown once, stored nowhere: give it by another channel.")
    passphrase_generated: bool
    signer_fingerprint: str = Field(description="Print it on the hand-over notice.")
    no_footage: list[str]


class HandoverIn(BaseModel):
    export_id: str = Field(min_length=1, max_length=64)
    recipient: str = Field(min_length=1, max_length=200)
    form: str = Field(default="USB 메모리", min_length=1, max_length=100)


class FeeIn(BaseModel):
    fee_krw: int = Field(ge=0, le=10**9)
    note: str = Field(default="", max_length=300)


class CloseIn(BaseModel):
    note: str = Field(default="", max_length=500)
    withdrawn: bool = False


class DeletionOut(BaseModel):
    segments: int
    size_bytes: int
    destruction_ids: list[int]


class DocumentOut(BaseModel):
    id: int
    request_id: int
    kind: DocumentKind
    filename: str
    content_type: str
    size_bytes: int
    sha256_hex: str
    uploaded_ms: int
    uploaded_by: str


def document_out(document: RequestDocument) -> DocumentOut:
    return DocumentOut(
        **document.model_dump(include=set(DocumentOut.model_fields)),
    )


class DeadlinesOut(BaseModel):
    now_ms: int
    overdue: list[RequestOut]
    due_soon: list[RequestOut]
    counts: dict[str, int]


# -- routes ---------------------------------------------------------------------------------


@router.post("", response_model=RequestOut, status_code=201)
def receive(body: StaffRequestIn, principal: _Officer, service: RequestsDep) -> RequestOut:
    """Record a request received at the desk, by mail, e-mail or fax; its footage is held."""
    new = NewRequest(**body.model_dump(exclude={"camera_ids"}), camera_ids=tuple(body.camera_ids))
    return request_out(service, service.receive(new, actor=principal.actor))


@router.get("", response_model=list[RequestOut])
def list_requests(
    principal: _Reader,
    service: RequestsDep,
    state: RequestState | None = None,
    open_only: bool = False,
) -> list[RequestOut]:
    return [
        request_out(service, r) for r in service.list_requests(state=state, open_only=open_only)
    ]


@router.get("/deadlines", response_model=DeadlinesOut)
def deadlines(principal: _Reader, service: RequestsDep) -> DeadlinesOut:
    """Overdue and due-soon requests (nothing overdue goes unnoticed), with counts."""
    report = service.deadlines()
    counts = {status.value: len(report.with_status(status)) for status in DeadlineStatus}
    counts["open_requests"] = len(report.entries)
    return DeadlinesOut(
        now_ms=report.now_ms,
        overdue=[request_out(service, e.request) for e in report.overdue],
        due_soon=[request_out(service, e.request) for e in report.due_soon],
        counts=counts,
    )


@router.get("/{request_id}", response_model=RequestOut)
def get_request(request_id: RequestId, principal: _Reader, service: RequestsDep) -> RequestOut:
    return request_out(service, service.get(request_id))


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
    request_id: RequestId, request: Request, principal: _Officer, service: RequestsDep
) -> DocumentOut:
    """Attach a document (ID copy, power of attorney, consent ...); kept encrypted."""
    limit = request.app.state.ctx.settings.requests.max_document_bytes
    fields, upload = await read_upload(request, file_field="file", max_bytes=limit)
    try:
        kind = DocumentKind(fields.get("kind", ""))
    except ValueError as exc:
        raise ValidationFailed("kind must be one of the document kinds") from exc
    if upload is None:
        raise ValidationFailed("the file is missing")
    upload = Upload(kind, upload.filename, upload.content_type, upload.data)
    return document_out(service.attach_document(request_id, upload, actor=principal.actor))


@router.get("/{request_id}/documents", response_model=list[DocumentOut])
def list_documents(
    request_id: RequestId, principal: _Officer, service: RequestsDep
) -> list[DocumentOut]:
    return [document_out(d) for d in service.documents(request_id)]


@router.get("/{request_id}/documents/{document_id}", responses=_BINARY)
def read_document(
    request_id: RequestId,
    document_id: Annotated[int, Path(ge=1, le=2**31)],
    principal: _Officer,
    service: RequestsDep,
) -> Response:
    """The document, decrypted in memory (needs the unlocked vault)."""
    document, data = service.read_document(request_id, document_id)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.filename)}",
        },
    )


@router.post("/{request_id}/identity", response_model=RequestOut)
def verify_identity(
    request_id: RequestId, body: IdentityIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    """Record how identity and authority were checked (R-REQ-2)."""
    request = service.verify_identity(request_id, **body.model_dump(), actor=principal.actor)
    return request_out(service, request)


@router.get("/{request_id}/proposal", response_model=ProposalOut)
def propose(request_id: RequestId, principal: _Officer, service: RequestsDep) -> ProposalOut:
    """The decision the stored footage suggests (destroyed footage: refusal citing records)."""
    return proposal_out(service.propose(request_id))


@router.post("/{request_id}/decision", response_model=RequestOut)
def decide(
    request_id: RequestId, body: DecisionIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    values = body.model_dump()
    values["approved_camera_ids"] = tuple(values["approved_camera_ids"])
    values["destruction_refs"] = tuple(values["destruction_refs"])
    request = service.decide(request_id, DecisionInput(**values), actor=principal.actor)
    return request_out(service, request)


@router.get("/{request_id}/notice-preview", response_class=HTMLResponse, responses=_HTML)
def preview_notice(request_id: RequestId, principal: _Officer, service: RequestsDep) -> str:
    return service.preview_notice(request_id)


@router.post("/{request_id}/notices", response_model=NoticeOut, status_code=201)
def notify(
    request_id: RequestId, body: NoticeIn, principal: _Officer, service: RequestsDep
) -> NoticeOut:
    """Send the notice of the decision (recorded with its channel; stops the 10-day clock)."""
    return notice_out(service.notify(request_id, channel=body.channel, actor=principal.actor))


@router.get("/{request_id}/notices", response_model=list[NoticeOut])
def list_notices(
    request_id: RequestId, principal: _Reader, service: RequestsDep
) -> list[NoticeOut]:
    return [notice_out(n) for n in service.notices(request_id)]


@router.get("/{request_id}/notices/{notice_id}", response_class=HTMLResponse, responses=_HTML)
def read_notice(
    request_id: RequestId,
    notice_id: Annotated[int, Path(ge=1, le=2**31)],
    principal: _Reader,
    service: RequestsDep,
) -> str:
    return service.notice(request_id, notice_id).body_html


@router.post("/{request_id}/onsite-viewing", response_model=RequestOut)
def onsite_viewing(
    request_id: RequestId, body: OnsiteViewingIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    """The requester viewed the footage on premises with the officer present (R-REQ-6)."""
    request = service.record_onsite_viewing(request_id, **body.model_dump(), actor=principal.actor)
    return request_out(service, request)


@router.post("/{request_id}/exports", response_model=ExportCreated, status_code=201)
def create_export(
    request_id: RequestId, body: ExportIn, principal: _Officer, service: RequestsDep
) -> ExportCreated:
    """Mask, sign and encrypt the approved footage into a package (R-REQ-5)."""
    request = service.get(request_id)
    plan, plans = body.plans(list(request.approved_camera_ids or request.camera_ids))
    result = service.create_export(
        request_id, plan=plan, plans=plans, passphrase=body.passphrase, actor=principal.actor
    )
    export = next(e for e in service.exports(request_id) if e.id == result.package_id)
    return ExportCreated(
        **export_out(export).model_dump(),
        passphrase=result.passphrase,
        passphrase_generated=result.passphrase_generated,
        signer_fingerprint=result.signer_fingerprint,
        no_footage=result.no_footage,
    )


@router.get("/{request_id}/exports", response_model=list[ExportOut])
def list_exports(
    request_id: RequestId, principal: _Reader, service: RequestsDep
) -> list[ExportOut]:
    return [export_out(e) for e in service.exports(request_id)]


@router.post("/{request_id}/handover", response_model=RequestOut)
def hand_over(
    request_id: RequestId, body: HandoverIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    """The copy was handed over in person (a provision in the management ledger)."""
    request = service.hand_over(
        request_id, body.export_id, recipient=body.recipient, form=body.form, actor=principal.actor
    )
    return request_out(service, request)


@router.post("/{request_id}/deletion", response_model=DeletionOut)
def execute_deletion(
    request_id: RequestId, principal: _Officer, service: RequestsDep
) -> DeletionOut:
    """Destroy the approved footage (R-REQ-7); refused while another hold or a legal minimum
    protects it."""
    result = service.execute_deletion(request_id, actor=principal.actor)
    return DeletionOut(
        segments=result.segments, size_bytes=result.size_bytes, destruction_ids=result.record_ids
    )


@router.post("/{request_id}/existence-answered", response_model=RequestOut)
def existence_answered(
    request_id: RequestId, principal: _Officer, service: RequestsDep
) -> RequestOut:
    return request_out(service, service.answer_existence(request_id, actor=principal.actor))


@router.post("/{request_id}/fee", response_model=RequestOut)
def record_fee(
    request_id: RequestId, body: FeeIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    """The fee charged (actual cost only, R-REQ-8)."""
    request = service.record_fee(request_id, body.fee_krw, body.note, actor=principal.actor)
    return request_out(service, request)


@router.post("/{request_id}/close", response_model=RequestOut)
def close(
    request_id: RequestId, body: CloseIn, principal: _Officer, service: RequestsDep
) -> RequestOut:
    """Close (or withdraw); the hold is released after requests.hold_grace_days."""
    request = service.close(
        request_id, actor=principal.actor, note=body.note, withdrawn=body.withdrawn
    )
    return request_out(service, request)
