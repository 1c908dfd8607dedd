"""The ledger page (/ledger): the management and destruction ledgers of a date range with
filters, downloads (CSV, printable page), chain verification and the latest signed head.

Server-rendered from the same domain functions as ``api.routes.ledger``
(``appliance.ledger.reading``: each read is recorded in the ledger first) through a plain GET
form, so the filters work without a script; the verify and sign buttons call that JSON API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import AccessDep, ContextDep
from api.schemas.ledger import DestructionOut, destruction_out
from api.web.pages import LangDep, page_guard, render
from appliance.access import Permission, Principal
from appliance.context import AppContext
from appliance.errors import ValidationFailed
from appliance.ledger.management import COLUMNS, ManagementKind, ManagementRow
from appliance.ledger.reading import (
    DayRange,
    day_range,
    kind_of,
    parse_day,
    parse_kinds,
    read_destruction,
    read_management,
)
from appliance.retention.destruction import camera_names, list_destruction

__all__ = ["PAGE_ROWS", "TABS", "router"]

router = APIRouter(tags=["pages"], include_in_schema=False)

TABS = ("management", "destruction")
# Columns holding a date and time: kept on one line.
_TIME_COLUMNS = frozenset(
    {"at", "footage_range", "period", "destroyed_at", "received", "due", "notice"}
)
PAGE_ROWS = 1000  # more than this on screen helps nobody: the CSV has them all
_Reader = Annotated[Principal, Depends(page_guard(Permission.read_ledger))]
_Text = Annotated[str | None, Query(max_length=100)]


@dataclass(frozen=True)
class _Filters:
    """What the form asked for, as typed (shown back in the form even when refused)."""

    from_text: str
    to_text: str
    kinds: list[str]
    camera: str
    person: str
    tab: str


def _query_string(span: DayRange, filters: _Filters, **extra: str) -> str:
    pairs = [("from", str(span.first)), ("to", str(span.last))]
    if filters.tab == "management":
        pairs += [("type", kind) for kind in filters.kinds]
    if filters.camera:
        pairs.append(("camera", filters.camera))
    if filters.person:
        pairs.append(("person", filters.person))
    pairs += list(extra.items())
    return urlencode(pairs)


def _switch_href(request: Request, other: str) -> str:
    # Every value of repeated parameters (type=...) survives the language switch.
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "denied")]
    return f"{request.url.path}?{urlencode([*pairs, ('lang', other)])}"


def _read(
    ctx: AppContext, principal: Principal, filters: _Filters
) -> tuple[DayRange, list[ManagementRow], list[DestructionOut]]:
    span = day_range(
        parse_day(filters.from_text, "from"),
        parse_day(filters.to_text, "to"),
        ctx.settings.zone,
        ctx.clock.now_ms(),
    )
    if filters.tab == "destruction":
        with ctx.db.session() as session:
            listed = list_destruction(
                session,
                since_ms=span.from_ms,
                until_ms=span.to_ms,
                camera_id=filters.camera or None,
            )
            names = camera_names(session)
        records = read_destruction(
            ctx.ledger, principal.actor, span, "page", listed,
            camera=filters.camera, person=filters.person,
        )  # fmt: skip
        zone = ctx.settings.zone
        return span, [], [destruction_out(r, names, zone) for r in records]
    kinds = sorted(parse_kinds(filters.kinds) or ())
    _query, rows = read_management(
        ctx.ledger, principal.actor, span, "page",
        kinds=kinds, camera=filters.camera, person=filters.person,
    )  # fmt: skip
    return span, rows, []


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(
    request: Request,
    principal: _Reader,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
    type_: Annotated[list[str] | None, Query(alias="type")] = None,
    camera: _Text = None,
    person: _Text = None,
    tab: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """The ledgers of a date range (default today), filtered; verification; the latest head."""
    filters = _Filters(
        from_text=(from_ or "").strip(),
        to_text=(to or "").strip(),
        kinds=sorted({k for k in type_ or [] if k}),
        camera=(camera or "").strip(),
        person=(person or "").strip(),
        tab=tab if tab in TABS else TABS[0],
    )
    cameras = [c for c, _ in access.cameras_for(principal)]
    span: DayRange | None = None
    rows: list[ManagementRow] = []
    destroyed: list[DestructionOut] = []
    error = ""
    try:
        if filters.camera and not any(c.id == filters.camera for c in cameras):
            raise ValidationFailed(f"no camera {filters.camera!r}")
        span, rows, destroyed = _read(ctx, principal, filters)
    except ValidationFailed as exc:
        error = str(exc)
    head = ctx.ledger.latest_head()
    tip = ctx.ledger.tip()
    other = "en" if lang.code == "ko" else "ko"
    return render(
        request,
        "ledger.html",
        lang,
        ctx,
        access,
        principal,
        switch_href=_switch_href(request, other),
        filters=filters,
        tabs=TABS,
        kinds=[k.value for k in ManagementKind],
        cameras=cameras,
        span=span,
        error=error,
        columns=[name for name, _ in COLUMNS],
        time_columns=_TIME_COLUMNS,
        rows=[(kind_of(r).value, r) for r in rows[:PAGE_ROWS]],
        total=len(rows) if filters.tab == "management" else len(destroyed),
        shown_limit=PAGE_ROWS,
        destroyed=destroyed[:PAGE_ROWS],
        csv_href=(
            f"/api/ledger/{filters.tab}?{_query_string(span, filters, format='csv')}"
            if span
            else ""
        ),
        print_href=(
            f"/api/ledger/{filters.tab}?{_query_string(span, filters, format='html')}"
            if span
            else ""
        ),
        tab_hrefs={
            name: f"/ledger?{_query_string(span, _with_tab(filters, name))}"
            if span
            else f"/ledger?tab={name}"
            for name in TABS
        },
        head_text=head.to_text(ctx.settings.zone) if head else "",
        head_seq=head.seq if head else 0,
        tip_seq=tip.seq,
        can_sign=principal.can(Permission.sign_ledger_head),
        timezone=ctx.settings.site.timezone,
    )


def _with_tab(filters: _Filters, tab: str) -> _Filters:
    return _Filters(
        filters.from_text, filters.to_text, filters.kinds, filters.camera, filters.person, tab
    )
