"""The officer's request desk (issue 14): the list of requests with the days left, the receipt
form, the blank application form to print, one page per request, and the hand-over record of a
copy to print and sign (issue 20).

Server-rendered from ``RequestService`` (every read takes the principal, so the auditor reads
and the officer also acts); every action on the pages is a call from ``requests_*.js`` to the
JSON API (``api.routes.requests``), so a click passes the same checks and leaves the same ledger
entries as an API client. The list's filters are a plain GET form (they work without a script).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import AccessDep, ContextDep, RequestsDep, RowId
from api.web.pages import LangDep, page_guard, render
from appliance.access import Permission, Principal
from appliance.context import AppContext
from appliance.errors import NotFound, ValidationFailed
from appliance.models import FootageRequest
from appliance.requests import (
    Channel,
    Decision,
    DeskFilter,
    DocumentKind,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestState,
    points_to_police,
)
from appliance.requests.workflow import approved_scope

__all__ = ["router"]

router = APIRouter(tags=["pages"], include_in_schema=False)

_Reader = Annotated[Principal, Depends(page_guard(Permission.read_requests))]
_Officer = Annotated[Principal, Depends(page_guard(Permission.manage_requests))]
_Choice = Annotated[str | None, Query(max_length=40)]
#: Channels a request reaches the desk by (the agency API files its own).
DESK_CHANNELS = tuple(c.value for c in Channel if c is not Channel.api)


def _local(ctx: AppContext, ms: int | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=ctx.settings.zone).strftime(fmt)


_E = TypeVar("_E", RequestState, RequestKind, RequesterKind)


def _enum(kind: type[_E], value: str | None, name: str) -> _E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name}: unknown value {value!r}") from exc


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name}: not a date (YYYY-MM-DD)") from exc


@dataclass(frozen=True)
class _Form:
    """The list's filters as typed (shown back even when refused)."""

    state: str
    kind: str
    requester_kind: str
    from_text: str
    to_text: str
    q: str
    closed: bool


@router.get("/requests", response_class=HTMLResponse)
def requests_page(
    http_request: Request,
    principal: _Reader,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
    service: RequestsDep,
    state: _Choice = None,
    kind: _Choice = None,
    requester_kind: _Choice = None,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    closed: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    """Open requests by deadline with the days left; filters; closed ones on demand."""
    form = _Form(
        state or "", kind or "", requester_kind or "", from_ or "", to or "", (q or "").strip(),
        closed or state == RequestState.closed.value,
    )  # fmt: skip
    error = ""
    rows = []
    try:
        wanted = DeskFilter(
            state=_enum(RequestState, form.state, "state"),
            kind=_enum(RequestKind, form.kind, "kind"),
            requester_kind=_enum(RequesterKind, form.requester_kind, "requester_kind"),
            from_day=_day(form.from_text, "from"),
            to_day=_day(form.to_text, "to"),
            text=form.q,
            closed=form.closed,
        )
        rows = service.desk(principal, wanted)
    except ValidationFailed as exc:
        error = str(exc)
    summary = service.desk_summary(principal)
    pairs = [(k, v) for k, v in http_request.query_params.multi_items() if k != "lang"]
    other = "en" if lang.code == "ko" else "ko"
    return render(
        http_request,
        "requests.html",
        lang,
        ctx,
        access,
        principal,
        switch_href=f"/requests?{urlencode([*pairs, ('lang', other)])}",
        rows=rows,
        form=form,
        error=error,
        summary=summary,
        states=[s.value for s in RequestState],
        kinds=[k.value for k in RequestKind],
        requester_kinds=[k.value for k in RequesterKind],
        can_manage=principal.can(Permission.manage_requests),
        local=lambda ms, fmt="%Y-%m-%d %H:%M": _local(ctx, ms, fmt),
        timezone=ctx.settings.site.timezone,
        newest_id=max(
            (r.request.id or 0 for r in service.desk(principal, DeskFilter(closed=True))),
            default=0,
        ),
    )


@router.get("/requests/new", response_class=HTMLResponse)
def receipt_page(
    http_request: Request,
    principal: _Officer,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
) -> HTMLResponse:
    """Record a request that arrived in person, by post, e-mail, fax or phone."""
    cameras = [c for c, _ in access.cameras_for(principal)]
    now = ctx.clock.now_ms()
    return render(
        http_request,
        "requests_new.html",
        lang,
        ctx,
        access,
        principal,
        cameras=cameras,
        channels=DESK_CHANNELS,
        kinds=[k.value for k in RequestKind],
        requester_kinds=[k.value for k in RequesterKind],
        document_kinds=[k.value for k in DocumentKind],
        today=_local(ctx, now, "%Y-%m-%d"),
        timezone=ctx.settings.site.timezone,
    )


@router.get("/requests/form", response_class=HTMLResponse)
def blank_form_page(
    http_request: Request,
    principal: _Officer,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
) -> HTMLResponse:
    """The blank application form (열람신청서) for walk-in requesters, A4, in Korean, filled
    with the site's details; printed from the browser."""
    site = ctx.settings.site
    return render(
        http_request,
        "requests_form.html",
        lang,
        ctx,
        access,
        principal,
        site=site,
        cameras=[c for c, _ in access.cameras_for(principal)],
    )


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(
    request_id: RowId,
    http_request: Request,
    principal: _Reader,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
    service: RequestsDep,
) -> HTMLResponse:
    """One request: what to do next, its history from the ledger, identity, proposal,
    decision, notices, fee, hold, closure."""
    request = service.get(principal, request_id)
    row = service.desk_row(request)
    manage = principal.can(Permission.manage_requests)
    cameras = {c.id: c for c, _ in access.cameras_for(principal)}
    try:
        hold = service.hold(principal, request_id)
    except NotFound:
        hold = None
    footage = service.footage(principal, request_id) if manage else []
    deciding = request.state != RequestState.closed and request.decision in (None, "postponed")
    proposal = service.propose(principal, request_id) if manage and deciding else None
    cited = sorted(
        {*request.destruction_refs, *(r for f in footage for r in f.destruction_refs)}
        | set(proposal.destruction_refs if proposal else ())
    )
    approved, approved_start, approved_end = approved_scope(request)
    return render(
        http_request,
        "requests_detail.html",
        lang,
        ctx,
        access,
        principal,
        r=request,
        row=row,
        can_manage=manage,
        next_step=_next_step(request),
        history=service.history(principal, request_id),
        hold=hold,
        documents=service.documents(principal, request_id) if manage else [],
        notices=service.notices(principal, request_id),
        exports=service.exports(principal, request_id),
        footage=footage,
        proposal=proposal,
        destroyed=service.destruction_records(principal, cited),
        cameras=cameras,
        approved=approved,
        approved_start=approved_start,
        approved_end=approved_end,
        decisions=[d.value for d in Decision],
        grounds=[g.value for g in RefusalGround],
        channels=[c.value for c in Channel if c is not Channel.api],
        document_kinds=[k.value for k in DocumentKind],
        police_first=points_to_police(f"{request.purpose} {request.subject_description}")
        and request.requester_kind not in ("police", "court"),
        local=lambda ms, fmt="%Y-%m-%d %H:%M": _local(ctx, ms, fmt),
        timezone=ctx.settings.site.timezone,
        site=ctx.settings.site,
    )


@router.get("/requests/{request_id}/handover-record", response_class=HTMLResponse)
def handover_record_page(
    request_id: RowId,
    http_request: Request,
    principal: _Officer,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
    service: RequestsDep,
    export: Annotated[str | None, Query(pattern=r"^[0-9a-f]{8,64}$")] = None,
) -> HTMLResponse:
    """The one-page hand-over record of a copy for the recipient to sign (issue 20): printed
    from the browser on A4. The package is verified before anything is shown, and the reading
    is in the ledger first (``RequestService.handover_record``)."""
    record = service.handover_record(principal, request_id, export, via="web")
    return render(
        http_request,
        "handover_record.html",
        lang,
        ctx,
        access,
        principal,
        rec=record,
        when=lambda ms: _local(ctx, ms, "%Y-%m-%d %H:%M:%S"),
        timezone=ctx.settings.site.timezone,
    )


def _next_step(request: FootageRequest) -> str:
    """The key of what the officer does next (a translation key's last part)."""
    state = RequestState(request.state)
    if state is RequestState.received:
        return "identity"
    if state is RequestState.identity_verified:
        return "decide"
    if state is RequestState.decided:
        return "notify"
    if state is RequestState.notified:
        if request.decision in (Decision.refused, None):
            return "close"
        if request.decision == Decision.postponed:
            return "decide"
        return f"fulfil_{request.kind}"
    if state is RequestState.fulfilled:
        return "close"
    return "done"
