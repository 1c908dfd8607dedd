"""The policy page (/policy), its printable texts (/policy/print, /policy/print.css) and
publishing a version (``POST /api/policy/publish``). Thin: ``appliance.policy`` renders,
compares and records (issue 17; design/policy.md).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field

from api.deps import AccessDep, ContextDep, require
from api.web.pages import LangDep, page_guard, render
from appliance.access import Permission, Principal
from appliance.policy import PolicyService, What
from appliance.policy.document import PRINT_CSS, to_html_body

__all__ = ["router"]

router = APIRouter(tags=["policy"])

_PageReader = Annotated[Principal, Depends(page_guard(Permission.read_policy))]
_Publisher = Annotated[Principal, Depends(require(Permission.publish_policy))]


class PublishIn(BaseModel):
    effective: date | None = Field(
        default=None, description="Effective date; at least 7 days ahead (default: 7 days)."
    )


class VersionOut(BaseModel):
    number: int
    announced_on: str
    effective_on: str
    sha256: str
    actor: str


@router.get("/policy", response_class=HTMLResponse, include_in_schema=False)
def policy_page(
    request: Request, principal: _PageReader, lang: LangDep, ctx: ContextDep, access: AccessDep
) -> HTMLResponse:
    """The live policy, whether the published one still matches, publishing and the history."""
    service = PolicyService.of(ctx)
    facts = service.facts()
    body = to_html_body(service.document(What.policy, lang.code, facts))
    return render(
        request,
        "policy.html",
        lang,
        ctx,
        access,
        principal,
        body=Markup(body),  # noqa: S704  escaped by appliance.policy.document
        status=service.status(),
        versions=service.history(),
        can_publish=principal.can(Permission.publish_policy),
        earliest=service.earliest_effective().isoformat(),
        camera_count=facts.camera_count,
        people_count=len(facts.people),
    )


@router.get("/policy/print", response_class=HTMLResponse, include_in_schema=False)
def policy_print(
    principal: _PageReader,
    lang: LangDep,
    ctx: ContextDep,
    what: Annotated[What, Query(description="policy, signs or annex")] = What.policy,
) -> HTMLResponse:
    """A printable page (A4): the policy, the signs (one per page) or the annex."""
    text = PolicyService.of(ctx).render(what, lang.code, "html", stylesheet="/policy/print.css")
    return HTMLResponse(text, headers=_PRINT_HEADERS)


@router.get("/policy/print.css", include_in_schema=False)
def policy_print_css(principal: _PageReader) -> Response:
    return Response(PRINT_CSS, media_type="text/css", headers={"Cache-Control": "no-store"})


@router.post("/api/policy/publish", response_model=VersionOut)
def publish(body: PublishIn, principal: _Publisher, ctx: ContextDep) -> VersionOut:
    """Publish the live policy as a new version (diff kept, ledgered, alarm cleared)."""
    version = PolicyService.of(ctx).publish(principal, body.effective)
    return VersionOut(
        number=version.number,
        announced_on=version.announced_on,
        effective_on=version.effective_on,
        sha256=version.sha256,
        actor=version.actor,
    )


# The printable pages carry no script at all.
_PRINT_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
