"""Notices to the requester, printable (A4 HTML): approval with date, time and place; partial
approval, postponement or refusal with the reason and how to object (R-REQ-3, R-REQ-4).

Korean, or English where the requester's language (``FootageRequest.requester_language``) is
English: ``notice.html`` and ``notice.en.html``, with the labels of ``_EN``.
``notice_context`` is pure (a request, the site, names and records in; template values out);
``render_notice`` fills the template of the context's language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from appliance.clock import from_ms
from appliance.errors import Conflict
from appliance.models import DestructionRecord, FootageRequest
from appliance.requests.kinds import Decision, RefusalGround, RequesterKind, RequestKind
from appliance.settings import SiteConfig

__all__ = [
    "NOTICE_HEADERS",
    "NOTICE_LANGUAGES",
    "format_day",
    "format_when",
    "notice_context",
    "render_notice",
    "request_number",
]

# The HTTP headers a rendered notice is served with. The template carries its own inline style
# and no script, image or link: nothing else may load, run, frame it or be sniffed from it.
NOTICE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

#: The languages a notice is printed in; Korean first (the default, and the law's language).
NOTICE_LANGUAGES = ("ko", "en")

_WEEKDAYS = "월화수목금토일"
_env = Environment(
    loader=PackageLoader("appliance.requests", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _local(ms: int, zone: ZoneInfo) -> datetime:
    return from_ms(ms).astimezone(zone)


def format_day(ms: int, zone: ZoneInfo) -> str:
    moment = _local(ms, zone)
    return f"{moment.year}년 {moment.month}월 {moment.day}일 ({_WEEKDAYS[moment.weekday()]})"


def format_when(ms: int, zone: ZoneInfo) -> str:
    return f"{format_day(ms, zone)} {_local(ms, zone):%H:%M}"


def _day_en(ms: int, zone: ZoneInfo) -> str:
    return f"{_local(ms, zone):%A, %-d %B %Y}"


def _when_en(ms: int, zone: ZoneInfo) -> str:
    return f"{_day_en(ms, zone)} {_local(ms, zone):%H:%M}"


#: English labels of the notice (the Korean ones are the enums' ``label``).
_EN: dict[str, dict[str, str]] = {
    "kind": {
        "existence": "confirmation of existence",
        "viewing": "viewing",
        "copy": "copy",
        "deletion": "deletion",
    },
    "verb": {
        "accepted": "decision",
        "partial": "partial approval",
        "postponed": "postponement",
        "refused": "refusal",
    },
    "decision": {
        "accepted": "Approved",
        "partial": "Partly approved",
        "postponed": "Postponed",
        "refused": "Refused",
    },
    "requester_kind": {
        "subject": "Data subject",
        "representative": "Legal representative",
        "delegate": "Delegate (power of attorney)",
        "police": "Investigative agency",
        "agency": "Public agency",
        "court": "Court",
        "mediation": "Korea Medical Dispute Mediation and Arbitration Agency",
    },
    "ground": {
        "destroyed": "The footage was already destroyed when its retention period ended",
        "others_privacy": "Disclosure could endanger the life or body of another person or "
        "unduly infringe another person's property or other interests",
        "other_law": "Viewing is prohibited or restricted by law",
        "investigation": "Disclosure would seriously hinder an investigation or a trial",
        "no_footage": "No footage of the requested time and place was recorded or kept",
    },
}


def request_number(request: FootageRequest, zone: ZoneInfo) -> str:
    """The number printed on notices, e.g. 2026-0007 (year of receipt, request id)."""
    return f"{_local(request.received_ms, zone).year}-{request.id or 0:04d}"


def _span(start_ms: int, end_ms: int, zone: ZoneInfo) -> str:
    return f"{format_when(start_ms, zone)} ~ {format_when(end_ms, zone)}"


def _cameras(ids: Sequence[str], names: Mapping[str, str]) -> list[str]:
    return [f"{names.get(c, c)} ({c})" for c in ids]


def notice_context(
    request: FootageRequest,
    site: SiteConfig,
    zone: ZoneInfo,
    *,
    now_ms: int,
    camera_names: Mapping[str, str],
    destruction: Sequence[DestructionRecord] = (),
    fingerprint: str = "",
) -> dict[str, Any]:
    """Template values for the notice of the request's current decision."""
    if request.decision is None:
        raise Conflict("there is no decision to notify yet")
    korean = _korean(request, site, zone, now_ms, camera_names, destruction, fingerprint)
    if request.requester_language == "en":
        return _english(korean, request, zone, now_ms=now_ms, camera_names=camera_names,
                        destruction=destruction)  # fmt: skip
    return korean


def _korean(
    request: FootageRequest,
    site: SiteConfig,
    zone: ZoneInfo,
    now_ms: int,
    camera_names: Mapping[str, str],
    destruction: Sequence[DestructionRecord],
    fingerprint: str,
) -> dict[str, Any]:
    decision = Decision(request.decision or "")
    kind = RequestKind(request.kind)
    requester_kind = RequesterKind(request.requester_kind)
    verb = {
        Decision.accepted: "결정",
        Decision.partial: "일부 승인",
        Decision.postponed: "연기",
        Decision.refused: "거절",
    }[decision]
    if decision is Decision.accepted and kind is RequestKind.existence:
        title = "개인영상정보 존재 확인 결과 통지서"
    else:
        title = f"개인영상정보 {kind.label} {verb} 통지서"
    released = request.approved_camera_ids or request.camera_ids
    lo = request.approved_start_ms if request.approved_start_ms is not None else request.start_ms
    hi = request.approved_end_ms if request.approved_end_ms is not None else request.end_ms
    return {
        "language": "ko",
        "title": title,
        "number": request_number(request, zone),
        "requester": request.requester_name,
        "requester_org": request.requester_org,
        "requester_contact": request.requester_contact,
        "requester_kind": requester_kind.label,
        "agency": request.agency_user_id is not None,
        "received": format_when(request.received_ms, zone),
        "letter_reference": request.letter_reference,
        "kind": kind.label,
        "kind_value": kind.value,
        "cameras": _cameras(request.camera_ids, camera_names),
        "footage_range": _span(request.start_ms, request.end_ms, zone),
        "decision": decision.label,
        "decision_value": decision.value,
        "released_cameras": _cameras(released, camera_names),
        "released_range": _span(lo, hi, zone),
        "viewing_when": format_when(request.viewing_ms, zone) if request.viewing_ms else "",
        "viewing_place": request.viewing_place,
        "officer_in_charge": request.officer,
        "ground": RefusalGround(request.refusal_ground).label if request.refusal_ground else "",
        "reason": request.decision_reason,
        "destruction": [
            f"파기 기록 #{d.id}: {camera_names.get(d.camera_id or '', d.camera_id or '')} "
            f"{format_when(d.start_ms or 0, zone)} ~ {format_when(d.end_ms or 0, zone)} 영상, "
            f"{format_when(d.executed_ms, zone)} 파기 ({d.reason})"
            for d in destruction
        ],
        "postponed_until": format_day(request.postponed_until_ms, zone)
        if request.postponed_until_ms
        else "",
        "fee_krw": f"{request.fee_krw:,}" if request.fee_krw else "",
        "fee_note": request.fee_note,
        "fingerprint": fingerprint,
        "notice_date": format_day(now_ms, zone),
        "site_name": site.name,
        "site_address": site.address,
        "officer_name": site.officer.name,
        "officer_title": site.officer.title,
        "officer_department": site.officer.department,
        "officer_phone": site.officer.phone,
        "officer_email": site.officer.email,
    }


def _english(
    korean: Mapping[str, Any],
    request: FootageRequest,
    zone: ZoneInfo,
    *,
    now_ms: int,
    camera_names: Mapping[str, str],
    destruction: Sequence[DestructionRecord],
) -> dict[str, Any]:
    """The Korean context with its words and dates in English (names and numbers kept)."""
    decision = request.decision or ""
    if decision == "accepted" and request.kind == "existence":
        title = "Notice of the result of a confirmation of existence of personal video data"
    else:
        title = (
            f"Notice of {_EN['verb'][decision]}: {_EN['kind'][request.kind]} of personal video data"
        )
    lo = request.approved_start_ms if request.approved_start_ms is not None else request.start_ms
    hi = request.approved_end_ms if request.approved_end_ms is not None else request.end_ms

    def span(start_ms: int, end_ms: int) -> str:
        return f"{_when_en(start_ms, zone)} to {_when_en(end_ms, zone)}"

    return {
        **korean,
        "language": "en",
        "title": title,
        "requester_kind": _EN["requester_kind"][request.requester_kind],
        "received": _when_en(request.received_ms, zone),
        "kind": _EN["kind"][request.kind],
        "footage_range": span(request.start_ms, request.end_ms),
        "decision": _EN["decision"][decision],
        "released_range": span(lo, hi),
        "viewing_when": _when_en(request.viewing_ms, zone) if request.viewing_ms else "",
        "ground": _EN["ground"][request.refusal_ground] if request.refusal_ground else "",
        "destruction": [
            f"Destruction record #{d.id}: footage of "
            f"{camera_names.get(d.camera_id or '', d.camera_id or '')} "
            f"{span(d.start_ms or 0, d.end_ms or 0)}, destroyed {_when_en(d.executed_ms, zone)} "
            f"({d.reason})"
            for d in destruction
        ],
        "postponed_until": _day_en(request.postponed_until_ms, zone)
        if request.postponed_until_ms
        else "",
        "notice_date": _day_en(now_ms, zone),
    }


def render_notice(context: Mapping[str, Any]) -> str:
    """The notice as HTML, in the context's language."""
    name = "notice.en.html" if context.get("language") == "en" else "notice.html"
    return _env.get_template(name).render(**context)
