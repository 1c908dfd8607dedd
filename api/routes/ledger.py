"""The ledgers on the web: the management ledger (관리대장, R-VIEW-2) and the destruction ledger
(R-RET-4) as JSON, CSV and printable pages; chain verification and signed heads (R-SEC-3).

Auditors, the video officer and admins read them (metadata only, never footage); signing a head
now is for the officer and admins. Reading writes nothing, so no read can fail for want of a
ledger entry, and none is recorded either (design/web.md: "The ledger page").
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel
from sqlmodel import Session

from api.deps import ContextDep, SessionDep
from api.security import require
from appliance.access import Permission, Principal, roles_with
from appliance.clock import from_ms, to_ms
from appliance.context import AppContext
from appliance.errors import Conflict, NotFound, ValidationFailed
from appliance.ledger import EventType, SignedHead, VerifyReport
from appliance.ledger.heads import FORMAT
from appliance.ledger.management import (
    COLUMNS,
    KIND_LABELS,
    ManagementKind,
    ManagementQuery,
    ManagementRow,
    management_rows,
)
from appliance.ledger.management import to_csv as management_csv
from appliance.ledger.management import to_html as management_html
from appliance.models import DestructionRecord, Role
from appliance.retention.destruction import (
    METHOD_KO,
    REASON_KO,
    Method,
    Reason,
    camera_names,
    list_destruction,
)
from appliance.retention.destruction import to_csv as destruction_csv
from appliance.retention.destruction import to_html as destruction_html

__all__ = [
    "MAX_RANGE_DAYS",
    "READ_ROLES",
    "SIGN_ROLES",
    "DayRange",
    "DestructionOut",
    "HeadOut",
    "day_range",
    "destruction_out",
    "destruction_records",
    "head_out",
    "kind_of",
    "management_page",
    "management_query",
    "parse_day",
    "parse_kinds",
    "record_read",
    "router",
]

router = APIRouter(prefix="/api/ledger", tags=["ledger"])

# Who viewed what is itself personal data: the officer and the auditor read the ledgers (minimum
# rights, R-SEC-2); the auditor never sees video. Integrity (verify, the latest signed head)
# reveals no entry, so the admin who keeps the box running may check it, and sign heads.
READ_ROLES: tuple[Role, ...] = roles_with(Permission.read_ledger)
INTEGRITY_ROLES: tuple[Role, ...] = (Role.admin, *READ_ROLES)
SIGN_ROLES: tuple[Role, ...] = (Role.admin, Role.officer)
MAX_RANGE_DAYS = 366  # a leap year: one query never reads more than a year of entries
_EARLIEST = date(2000, 1, 1)  # dates outside this window are typos (and would overflow)
_LATEST = date(2999, 12, 31)
CameraQuery = Annotated[
    str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Camera id.")
]
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

_Reader = Annotated[Principal, Depends(require(*READ_ROLES))]
_Checker = Annotated[Principal, Depends(require(*INTEGRITY_ROLES))]
_Signer = Annotated[Principal, Depends(require(*SIGN_ROLES))]

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
_LABEL_KINDS = {label: kind for kind, label in KIND_LABELS.items()}
# One verification at a time: it is CPU-bound (seconds on a large ledger).
_VERIFYING = threading.Lock()


class Format(StrEnum):
    json = "json"
    csv = "csv"
    html = "html"


class HeadFormat(StrEnum):
    json = "json"
    text = "text"


# -- inputs (pure) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DayRange:
    """Local calendar days ``first``..``last`` (inclusive) as UTC ms ``[from_ms, to_ms)``."""

    first: date
    last: date
    from_ms: int
    to_ms: int

    @property
    def text(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first} ~ {self.last}"


def day_range(first: date | None, last: date | None, zone: tzinfo, now_ms: int) -> DayRange:
    """The days asked for, defaulting to today; ValidationFailed when the range is refused."""
    today = from_ms(now_ms).astimezone(zone).date()
    if last is None:
        last = max(first, today) if first is not None else today
    if first is None:
        first = last
    for name, day in (("from", first), ("to", last)):
        if not _EARLIEST <= day <= _LATEST:
            raise ValidationFailed(f"'{name}' {day} is outside {_EARLIEST}..{_LATEST}")
    if first > last:
        raise ValidationFailed(f"'from' {first} is after 'to' {last}")
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise ValidationFailed(f"the range covers {days} days; at most {MAX_RANGE_DAYS} at a time")

    def start(day: date) -> int:
        return to_ms(datetime.combine(day, time(0), tzinfo=zone))

    return DayRange(first, last, start(first), start(last + timedelta(days=1)))


def parse_day(text: str | None, name: str) -> date | None:
    """A YYYY-MM-DD form field (empty: not given)."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"'{name}' {text!r} is not a date (YYYY-MM-DD)") from None


def parse_kinds(values: Iterable[str]) -> frozenset[ManagementKind] | None:
    """Row types from form values; None (every type) when none is given."""
    kinds: set[ManagementKind] = set()
    for value in values:
        try:
            kinds.add(ManagementKind(value))
        except ValueError:
            allowed = ", ".join(k.value for k in ManagementKind)
            raise ValidationFailed(f"unknown type {value!r}; one of {allowed}") from None
    return frozenset(kinds) or None


def management_query(
    span: DayRange,
    kinds: Iterable[ManagementKind] | None = None,
    camera: str | None = None,
    person: str | None = None,
) -> ManagementQuery:
    chosen = frozenset(kinds or ())
    return ManagementQuery(
        from_ms=span.from_ms,
        to_ms=span.to_ms,
        kinds=chosen or None,
        camera_id=camera or None,
        person=(person or "").strip() or None,
    )


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


def record_read(
    ctx: AppContext,
    principal: Principal,
    ledger: str,
    span: DayRange,
    format_: str,
    rows: int,
    *,
    types: Iterable[str] = (),
    camera: str | None = None,
    person: str | None = None,
) -> None:
    """Write the read into the ledger before anything is shown (R-SEC-3); fails closed with
    LedgerUnavailable (503), so a read that cannot be recorded shows nothing."""
    ctx.ledger.append(
        EventType.ledger_read,
        actor=principal.actor,
        camera_id=camera or None,
        data={
            "ledger": ledger,
            "from_ms": span.from_ms,
            "to_ms": span.to_ms,
            "format": format_,
            "rows": rows,
            "filters": {"types": sorted(types), "camera": camera or "", "person": person or ""},
        },
    )


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
    camera: CameraQuery = None,
    person: PersonQuery = None,
    format_: Annotated[Format, Query(alias="format")] = Format.json,
) -> ManagementOut | Response:
    """The management ledger (개인영상정보 관리대장): uses, provisions, viewings, destructions
    and requests of the days asked for."""
    span = day_range(from_day, to_day, ctx.settings.zone, ctx.clock.now_ms())
    query = management_query(span, type_, camera, person)
    rows = management_rows(ctx.ledger, query)
    record_read(
        ctx, principal, "management", span, format_.value, len(rows),
        types=[k.value for k in type_ or []], camera=camera, person=person,
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


def kind_of(row: ManagementRow) -> ManagementKind:
    """The row type of a row (its ``kind`` is the Korean label)."""
    return _LABEL_KINDS[row.kind]


# -- destruction ledger ----------------------------------------------------------------------


class DestructionOut(BaseModel):
    """One row of the destruction ledger: a purge batch of a camera, or a destroyed vault key."""

    id: int
    executed_ms: int
    executed_at: str
    camera_id: str | None
    camera_name: str
    vault_key_id: str
    segment_count: int
    start_ms: int | None
    end_ms: int | None
    footage_range: str
    size_bytes: int
    method: str
    method_ko: str
    reason: str
    reason_ko: str
    executed_by: str
    segments_digest: str
    note: str


class DestructionListOut(BaseModel):
    from_day: date
    to_day: date
    timezone: str
    count: int
    rows: list[DestructionOut]


def _label(table: dict[Any, str], kind: type[StrEnum], value: str) -> str:
    try:
        return table.get(kind(value), value)
    except ValueError:
        return value


def destruction_out(
    ctx: AppContext, record: DestructionRecord, names: dict[str, str]
) -> DestructionOut:
    assert record.id is not None
    camera = record.camera_id
    return DestructionOut(
        id=record.id,
        executed_ms=record.executed_ms,
        executed_at=_local(ctx, record.executed_ms, _SECONDS),
        camera_id=camera,
        camera_name=names.get(camera, camera) if camera else "",
        vault_key_id=record.vault_key_id,
        segment_count=record.segment_count,
        start_ms=record.start_ms,
        end_ms=record.end_ms,
        footage_range=(
            f"{_local(ctx, record.start_ms, _SECONDS)} ~ "
            f"{_local(ctx, record.end_ms, _SECONDS) if record.end_ms is not None else ''}"
            if record.start_ms is not None
            else ""
        ),
        size_bytes=record.size_bytes,
        method=record.method,
        method_ko=_label(METHOD_KO, Method, record.method),
        reason=record.reason,
        reason_ko=_label(REASON_KO, Reason, record.reason),
        executed_by=record.executed_by,
        segments_digest=record.segments_digest,
        note=record.note,
    )


def destruction_records(
    session: Session, span: DayRange, camera: str | None = None, person: str | None = None
) -> list[DestructionRecord]:
    """Records executed on the days of ``span``; a camera's include the vault keys destroyed
    (they covered every camera); ``person`` is part of who executed it."""
    records = list_destruction(
        session, since_ms=span.from_ms, until_ms=span.to_ms, camera_id=camera or None
    )
    needle = (person or "").strip().casefold()
    if needle:
        records = [r for r in records if needle in r.executed_by.casefold()]
    return records


@router.get("/destruction", response_model=DestructionListOut, responses=_FILE_RESPONSES)
def destruction(
    principal: _Reader,
    ctx: ContextDep,
    session: SessionDep,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
    camera: CameraQuery = None,
    person: PersonQuery = None,
    format_: Annotated[Format, Query(alias="format")] = Format.json,
) -> DestructionListOut | Response:
    """The destruction ledger (파기 대장): what was destroyed, when, how, why and by whom."""
    zone = ctx.settings.zone
    span = day_range(from_day, to_day, zone, ctx.clock.now_ms())
    records = destruction_records(session, span, camera, person)
    names = camera_names(session)
    record_read(
        ctx, principal, "destruction", span, format_.value, len(records),
        camera=camera, person=person,
    )  # fmt: skip
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
        rows=[destruction_out(ctx, r, names) for r in records],
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
        notes=list(report.notes),
        summary=report.summary(),
        checked_ms=checked_ms,
    )


@router.get("/verify", response_model=VerifyOut)
def verify(principal: _Checker, ctx: ContextDep) -> VerifyOut:
    """Walk the whole chain, the tip and every stored signed head; a tampered ledger is an
    answer (``ok: false`` with the first bad entry), not an error."""
    if not _VERIFYING.acquire(blocking=False):
        raise Conflict("a verification is already running; try again when it has finished")
    try:
        report = ctx.ledger.verify()
    finally:
        _VERIFYING.release()
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
    signed_at: str
    text: str  # the short printable text for the paper ledger


def head_out(head: SignedHead, zone: tzinfo) -> HeadOut:
    return HeadOut(
        format=FORMAT,
        kind=head.kind,
        seq=head.seq,
        hash=head.hash_hex,
        signed_ms=head.signed_ms,
        key_id=head.key_id,
        signature=head.signature_hex,
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
