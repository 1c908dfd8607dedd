"""The ledgers on the web: the management ledger (관리대장, R-VIEW-2) and the destruction ledger
(R-RET-4) as JSON, CSV and printable pages; chain verification and signed heads (R-SEC-3).

Auditors, the video officer and admins read them (metadata only, never footage); signing a head
now is for the officer and admins. Reading a ledger is itself recorded (a ``ledger_read`` entry,
R-SEC-3) before any row is shown; when that entry cannot be written the answer is 503 and
nothing is shown (``appliance.ledger.reading``, which holds the rules: day ranges, filters, the
one-at-a-time verification). This module parses HTTP, calls it, and formats the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from api.deps import CameraQuery, ContextDep, SessionDep, require
from api.schemas.ledger import (
    DestructionOut,
    destruction_out,
)
from appliance.access import Permission, Principal
from appliance.clock import from_ms
from appliance.context import AppContext
from appliance.errors import NotFound
from appliance.health.verification import record_verification
from appliance.ledger import SignedHead, VerifyReport
from appliance.ledger.management import (
    COLUMNS,
    KIND_LABELS,
    ManagementKind,
    ManagementQuery,
    ManagementRow,
)
from appliance.ledger.management import to_csv as management_csv
from appliance.ledger.management import to_html as management_html
from appliance.ledger.reading import (
    DayRange,
    day_range,
    read_destruction,
    read_management,
    verify_once,
)
from appliance.retention.destruction import camera_names, list_destruction
from appliance.retention.destruction import to_csv as destruction_csv
from appliance.retention.destruction import to_html as destruction_html

__all__ = ["DestructionOut", "HeadOut", "head_out", "management_page", "router"]

router = APIRouter(prefix="/api/ledger", tags=["ledger"])

PersonQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="Part of a name: officer, viewer, recipient, requester, destroyer.",
    ),
]
FromQuery = Annotated[
    date | None,
    Query(alias="from", description="First day (site time zone); default: 'to', or today."),
]
ToQuery = Annotated[
    date | None,
    Query(alias="to", description="Last day, inclusive; default: today (or 'from' if later)."),
]

_Reader = Annotated[Principal, Depends(require(Permission.read_ledger))]
_Checker = Annotated[Principal, Depends(require(Permission.verify_ledger))]
_Signer = Annotated[Principal, Depends(require(Permission.sign_ledger_head))]

# The printable pages carry their own inline style and no script.
_PRINT_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_NO_STORE = {"Cache-Control": "no-store"}
_SECONDS = "%Y-%m-%d %H:%M:%S"


class Format(StrEnum):
    json = "json"
    csv = "csv"
    html = "html"


class HeadFormat(StrEnum):
    json = "json"
    text = "text"


# -- responses ------------------------------------------------------------------------------


def _filename(stem_ko: str, stem: str, span: DayRange, ext: str) -> str:
    days = f"{span.first}" if span.first == span.last else f"{span.first}_{span.last}"
    # ASCII for old clients, the Korean name (RFC 6266 filename*) for the others.
    return (
        f'attachment; filename="{stem}_{days}.{ext}"; '
        f"filename*=UTF-8''{quote(f'{stem_ko}_{days}.{ext}')}"
    )


def _csv_response(text: str, disposition: str) -> Response:
    body = text if text.startswith("\ufeff") else "\ufeff" + text  # BOM: Excel reads UTF-8
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition, **_NO_STORE},
    )


def _local(ctx: AppContext, ms: int, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return from_ms(ms).astimezone(ctx.settings.zone).strftime(fmt)


# -- management ledger -----------------------------------------------------------------------


class ColumnOut(BaseModel):
    field: str
    header: str


class TipOut(BaseModel):
    seq: int
    hash: str


class ManagementOut(BaseModel):
    """Rows of the management ledger; every field is display text in the site's time zone."""

    from_day: date
    to_day: date
    timezone: str
    from_ms: int
    to_ms: int
    types: list[ManagementKind]
    count: int
    columns: list[ColumnOut]
    rows: list[ManagementRow]
    tip: TipOut


def management_page(
    ctx: AppContext, rows: Sequence[ManagementRow], span: DayRange, query: ManagementQuery
) -> str:
    """The printable page (``to_html``), filled as ``appliance ledger export`` fills it."""
    settings = ctx.settings
    officer = settings.site.officer
    tip = ctx.ledger.tip()
    kinds = ", ".join(KIND_LABELS[k] for k in ManagementKind if k in (query.kinds or ()))
    filters = [kinds, query.camera_id or "", query.person or ""]
    extra = " / ".join(f for f in filters if f)
    return management_html(
        rows,
        site_name=settings.site.name,
        officer=f"{officer.name} ({officer.department} {officer.title})",
        range_text=span.text + (f" ({extra})" if extra else ""),
        generated_at=_local(ctx, ctx.clock.now_ms()),
        tip_text=f"원장 현재 번호 {tip.seq}, 해시 {tip.hash_hex[:16]}",
    )


_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {},
            "text/csv": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
        },
        "description": "JSON, CSV (UTF-8 with BOM, Korean headers) or a printable page (A4).",
    }
}


@router.get("/management", response_model=ManagementOut, responses=_FILE_RESPONSES)
def management(
    principal: _Reader,
    ctx: ContextDep,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
    type_: Annotated[
        list[ManagementKind] | None,
        Query(alias="type", description="Row type, repeatable (default: every type)."),
    ] = None,
    camera: CameraQuery | None = None,
    person: PersonQuery = None,
    format_: Annotated[Format, Query(alias="format")] = Format.json,
) -> ManagementOut | Response:
    """The management ledger (개인영상정보 관리대장): uses, provisions, viewings, destructions
    and requests of the days asked for."""
    span = day_range(from_day, to_day, ctx.settings.zone, ctx.clock.now_ms())
    query, rows = read_management(
        ctx.ledger, principal.actor, span, format_.value,
        kinds=type_, camera=camera, person=person,
    )  # fmt: skip
    if format_ is Format.csv:
        disposition = _filename("개인영상정보_관리대장", "management-ledger", span, "csv")
        return _csv_response(management_csv(rows), disposition)
    if format_ is Format.html:
        return HTMLResponse(management_page(ctx, rows, span, query), headers=_PRINT_HEADERS)
    tip = ctx.ledger.tip()
    return ManagementOut(
        from_day=span.first,
        to_day=span.last,
        timezone=ctx.settings.site.timezone,
        from_ms=span.from_ms,
        to_ms=span.to_ms,
        types=[k for k in ManagementKind if query.kinds is None or k in query.kinds],
        count=len(rows),
        columns=[ColumnOut(field=name, header=header) for name, header in COLUMNS],
        rows=rows,
        tip=TipOut(seq=tip.seq, hash=tip.hash_hex),
    )


# -- destruction ledger ----------------------------------------------------------------------


class DestructionListOut(BaseModel):
    from_day: date
    to_day: date
    timezone: str
    count: int
    rows: list[DestructionOut]


@router.get("/destruction", response_model=DestructionListOut, responses=_FILE_RESPONSES)
def destruction(
    principal: _Reader,
    ctx: ContextDep,
    session: SessionDep,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
    camera: CameraQuery | None = None,
    person: PersonQuery = None,
    format_: Annotated[Format, Query(alias="format")] = Format.json,
) -> DestructionListOut | Response:
    """The destruction ledger (파기 대장): what was destroyed, when, how, why and by whom."""
    zone = ctx.settings.zone
    span = day_range(from_day, to_day, zone, ctx.clock.now_ms())
    listed = list_destruction(
        session, since_ms=span.from_ms, until_ms=span.to_ms, camera_id=camera or None
    )
    names = camera_names(session)
    records = read_destruction(
        ctx.ledger, principal.actor, span, format_.value, listed, camera=camera, person=person
    )
    if format_ is Format.csv:
        disposition = _filename("개인영상정보_파기대장", "destruction-ledger", span, "csv")
        return _csv_response(destruction_csv(records, zone, names), disposition)
    if format_ is Format.html:
        officer = ctx.settings.site.officer
        page = destruction_html(
            records,
            zone,
            site=ctx.settings.site.name,
            officer=f"{officer.name} ({officer.department} {officer.title})",
            printed_ms=ctx.clock.now_ms(),
            names=names,
        )
        return HTMLResponse(page, headers=_PRINT_HEADERS)
    return DestructionListOut(
        from_day=span.first,
        to_day=span.last,
        timezone=ctx.settings.site.timezone,
        count=len(records),
        rows=[destruction_out(r, names, zone) for r in records],
    )


# -- verification and signed heads -----------------------------------------------------------


class VerifyOut(BaseModel):
    """``Ledger.verify``: ``ok``, or the first bad entry and what is wrong with it."""

    ok: bool
    entries_checked: int
    start_seq: int
    last_seq: int
    last_hash: str
    heads_checked: int
    first_bad_seq: int | None
    problem: str | None
    failure: str | None = Field(
        description="Which check failed: chain, signature, head_chain, continuity, unsigned "
        "(no head since a restart: the vault is not unlocked yet), heads_file, key."
    )
    notes: list[str]
    summary: str
    checked_ms: int


def verify_out(report: VerifyReport, checked_ms: int) -> VerifyOut:
    return VerifyOut(
        ok=report.ok,
        entries_checked=report.entries_checked,
        start_seq=report.start_seq,
        last_seq=report.last_seq,
        last_hash=report.last_hash_hex,
        heads_checked=report.heads_checked,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
        failure=report.failure.value if report.failure is not None else None,
        notes=list(report.notes),
        summary=report.summary(),
        checked_ms=checked_ms,
    )


@router.get("/verify", response_model=VerifyOut)
def verify(principal: _Checker, ctx: ContextDep) -> VerifyOut:
    """Walk the whole chain, the tip and every stored signed head; a tampered ledger is an
    answer (``ok: false`` with the first bad entry), not an error."""
    report = verify_once(ctx.ledger)
    with ctx.db.session() as session:  # the health page shows the last verification
        record_verification(session, report, ctx.clock.now_ms(), "api")
    return verify_out(report, ctx.clock.now_ms())


class HeadOut(BaseModel):
    """A signed head. Saved as a file, it is what ``appliance ledger verify --head`` reads."""

    format: str
    kind: str
    seq: int
    hash: str
    signed_ms: int
    key_id: str
    signature: str
    prev: str | None = None  # format 2: the hash of the head signed before this one
    signed_at: str
    text: str  # the short printable text for the paper ledger


def head_out(head: SignedHead, zone: tzinfo) -> HeadOut:
    return HeadOut(
        format=head.format,
        kind=head.kind,
        seq=head.seq,
        hash=head.hash_hex,
        signed_ms=head.signed_ms,
        key_id=head.key_id,
        signature=head.signature_hex,
        prev=head.prev_hex,
        signed_at=from_ms(head.signed_ms).astimezone(zone).strftime(_SECONDS),
        text=head.to_text(zone),
    )


@router.post("/heads", response_model=HeadOut, status_code=201)
def sign_head(principal: _Signer, ctx: ContextDep) -> HeadOut:
    """Sign the current tip now and store the head (to export or copy onto paper)."""
    return head_out(ctx.ledger.sign_head(), ctx.settings.zone)


@router.get(
    "/heads/latest",
    response_model=HeadOut,
    responses={200: {"content": {"application/json": {}, "text/plain": {}}}},
)
def latest_head(
    principal: _Checker,
    ctx: ContextDep,
    format_: Annotated[HeadFormat, Query(alias="format")] = HeadFormat.json,
) -> HeadOut | Response:
    """The latest signed head, as JSON or as the short text for the paper ledger."""
    head = ctx.ledger.latest_head()
    if head is None:
        raise NotFound("no head has been signed yet")
    if format_ is HeadFormat.text:
        return PlainTextResponse(head.to_text(ctx.settings.zone), headers=_NO_STORE)
    return head_out(head, ctx.settings.zone)
