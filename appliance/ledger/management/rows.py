"""The management ledger's rows (개인영상정보 관리대장), built from ledger entries (R-VIEW-2).

One row per use (이용: ``export_created``), provision (제공: ``provision``), viewing (열람:
``view_live_start``, ``view_recorded_start``, ``onsite_viewing``, with the end time from the
matching ``*_end`` entry), destruction (파기: ``purge``) and request (요청: ``request_received``
overlaid with its later ``request_state`` entries). The fields come from the entries' data keys
(appliance.ledger.events). Pure: ``query.management_rows`` does the reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from enum import StrEnum
from typing import Any

from appliance.clock import from_ms
from appliance.ledger.events import EventType
from appliance.ledger.store import Entry

__all__ = [
    "COLUMNS",
    "EVENT_KINDS",
    "KIND_LABELS",
    "ManagementKind",
    "ManagementRow",
    "build_rows",
    "cameras_of",
]


class ManagementKind(StrEnum):
    """Row types of the management ledger."""

    use = "use"
    provision = "provision"
    viewing = "viewing"
    destruction = "destruction"
    request = "request"


KIND_LABELS = {
    ManagementKind.use: "이용",
    ManagementKind.provision: "제공",
    ManagementKind.viewing: "열람",
    ManagementKind.destruction: "파기",
    ManagementKind.request: "요청",
}

EVENT_KINDS: Mapping[EventType, ManagementKind] = {
    EventType.export_created: ManagementKind.use,
    EventType.provision: ManagementKind.provision,
    EventType.view_live_start: ManagementKind.viewing,
    EventType.view_recorded_start: ManagementKind.viewing,
    EventType.onsite_viewing: ManagementKind.viewing,
    EventType.purge: ManagementKind.destruction,
    EventType.export_destroyed: ManagementKind.destruction,
    EventType.document_destroyed: ManagementKind.destruction,
    EventType.request_received: ManagementKind.request,
}

_ENDS = {
    EventType.view_live_start.value: EventType.view_live_end.value,
    EventType.view_recorded_start.value: EventType.view_recorded_end.value,
}

_REQUESTER_KINDS = {
    "subject": "정보주체",
    "representative": "법정대리인",
    "delegate": "위임 대리인",
    "police": "수사기관",
    "agency": "공공기관",
    "court": "법원",
    "mediation": "의료분쟁조정중재원",
}
_REQUEST_KINDS = {
    "existence": "존재 확인",
    "viewing": "열람",
    "copy": "사본 교부",
    "deletion": "삭제",
}
_DECISIONS = {
    "accepted": "승인",
    "partial": "일부 승인",
    "refused": "거부",
    "postponed": "연기",
    "withdrawn": "철회",
}
_VIEW_FORMS = {
    EventType.view_live_start.value: "실시간 열람",
    EventType.view_recorded_start.value: "녹화영상 열람",
    EventType.onsite_viewing.value: "현장 열람(입회)",
}


@dataclass(frozen=True)
class ManagementRow:
    """One row; every field is display text (times in the site's zone)."""

    seq: int
    kind: str
    at: str
    target: str
    footage_range: str
    officer: str
    witness: str
    purpose: str
    counterpart: str
    legal_basis: str
    form: str
    period: str
    masking: str
    destroyed_at: str
    destruction_method: str
    destroyed_by: str
    requester_kind: str
    identity_check: str
    received: str
    due: str
    decision: str
    notice: str
    viewing_schedule: str
    officer_present: str
    refusal_reason: str


#: (field, Korean header) in display order: the CSV header and the printed page's columns.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "원장 번호"),
    ("kind", "구분"),
    ("at", "일시"),
    ("target", "대상 (카메라·파일)"),
    ("footage_range", "영상 기간"),
    ("officer", "담당자"),
    ("witness", "입회자"),
    ("purpose", "목적·사유"),
    ("counterpart", "열람자·수령인·요청인"),
    ("legal_basis", "근거"),
    ("form", "형태"),
    ("period", "기간"),
    ("masking", "마스킹"),
    ("destroyed_at", "파기 일시"),
    ("destruction_method", "파기 방법"),
    ("destroyed_by", "파기 처리자"),
    ("requester_kind", "요청인 구분"),
    ("identity_check", "신원 확인"),
    ("received", "접수일"),
    ("due", "처리 기한"),
    ("decision", "결정"),
    ("notice", "통지일"),
    ("viewing_schedule", "열람 일시·장소"),
    ("officer_present", "입회 담당자"),
    ("refusal_reason", "거부 사유"),
)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "예" if value else "아니오"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _when(ms: Any, zone: tzinfo, *, date_only: bool = False) -> str:
    if not isinstance(ms, int) or isinstance(ms, bool):
        return _text(ms)
    moment = from_ms(ms).astimezone(zone)
    return moment.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")


def _range(data: Mapping[str, Any], zone: tzinfo) -> str:
    start, end = data.get("from_ms"), data.get("to_ms")
    if start is None and end is None:
        return ""
    return f"{_when(start, zone)} ~ {_when(end, zone)}"


def cameras_of(entry: Entry) -> list[str]:
    """The cameras an entry names: its ``camera_id`` first, then its ``cameras`` data key."""
    cams = entry.data.get("cameras")
    listed = [str(c) for c in cams] if isinstance(cams, list) else []
    if entry.camera_id and entry.camera_id not in listed:
        listed.insert(0, entry.camera_id)
    return listed


def _target(entry: Entry) -> str:
    parts = [", ".join(cameras_of(entry))]
    if entry.data.get("file"):
        parts.append(str(entry.data["file"]))
    if entry.event == EventType.purge.value and entry.data.get("segments") is not None:
        parts.append(f"세그먼트 {entry.data['segments']}개")
    return " / ".join(p for p in parts if p)


def _masking(data: Mapping[str, Any]) -> str:
    value = data.get("masking")
    if value is None:
        return ""
    return "적용" if value else "미적용"


def _label(table: Mapping[str, str], value: Any) -> str:
    return table.get(str(value), _text(value)) if value is not None else ""


def _row(entry: Entry, data: Mapping[str, Any], zone: tzinfo, **extra: str) -> ManagementRow:
    kind = EVENT_KINDS[EventType(entry.event)]
    values = {
        "seq": entry.seq,
        "kind": KIND_LABELS[kind],
        "at": _when(entry.ts_ms, zone),
        "target": _target(entry),
        "footage_range": _range(data, zone),
        "officer": _text(data.get("officer")),
        "witness": _text(data.get("witness")),
        "purpose": _text(data.get("purpose") or data.get("reason")),
        "counterpart": "",
        "legal_basis": _text(data.get("legal_basis")),
        "form": _text(data.get("form")),
        "period": _text(data.get("period")),
        "masking": _masking(data),
        "destroyed_at": "",
        "destruction_method": "",
        "destroyed_by": "",
        "requester_kind": "",
        "identity_check": "",
        "received": "",
        "due": "",
        "decision": "",
        "notice": "",
        "viewing_schedule": "",
        "officer_present": "",
        "refusal_reason": "",
    }
    values.update(extra)
    return ManagementRow(**values)  # type: ignore[arg-type]


def build_rows(
    entries: Iterable[Entry], related: Iterable[Entry], zone: tzinfo
) -> list[ManagementRow]:
    """Management rows for ``entries`` (the kinds in EVENT_KINDS), in seq order.

    ``related`` holds the entries that complete them: view ends and request state changes,
    matched by ``ref``.
    """
    ends: dict[tuple[str, str], Entry] = {}
    states: dict[str, list[Entry]] = {}
    for other in sorted(related, key=lambda e: e.seq):
        if other.ref is None:
            continue
        if other.event == EventType.request_state.value:
            states.setdefault(other.ref, []).append(other)
        else:
            ends.setdefault((other.event, other.ref), other)
    rows: list[ManagementRow] = []
    for entry in sorted(entries, key=lambda e: e.seq):
        event = EventType(entry.event)
        data = entry.data
        if event in (EventType.view_live_start, EventType.view_recorded_start):
            end = ends.get((_ENDS[entry.event], entry.ref or ""))
            period = f"{_when(entry.ts_ms, zone)} ~ {_when(end.ts_ms, zone) if end else ''}"
            rows.append(
                _row(
                    entry,
                    data,
                    zone,
                    counterpart=entry.actor,
                    form=_text(data.get("form")) or _VIEW_FORMS[entry.event],
                    period=period,
                )
            )
        elif event == EventType.onsite_viewing:
            rows.append(
                _row(
                    entry,
                    data,
                    zone,
                    counterpart=_text(data.get("requester")),
                    form=_text(data.get("form")) or _VIEW_FORMS[entry.event],
                    officer=_text(data.get("officer")) or entry.actor,
                    viewing_schedule=" ".join(
                        p for p in (_when(entry.ts_ms, zone), _text(data.get("place"))) if p
                    ),
                    officer_present=_text(data.get("officer")),
                )
            )
        elif event in (EventType.export_created, EventType.provision):
            rows.append(
                _row(
                    entry,
                    data,
                    zone,
                    counterpart=_text(data.get("recipient")),
                    officer=_text(data.get("officer")) or entry.actor,
                )
            )
        elif event in (EventType.purge, EventType.export_destroyed, EventType.document_destroyed):
            rows.append(
                _row(
                    entry,
                    data,
                    zone,
                    destroyed_at=_when(entry.ts_ms, zone),
                    destruction_method=_text(data.get("method")),
                    destroyed_by=_text(data.get("officer")) or entry.actor,
                )
            )
        elif event == EventType.request_received:
            merged = dict(data)
            for state in states.get(entry.ref or "", []):
                merged.update({k: v for k, v in state.data.items() if v is not None})
            schedule = " ".join(
                p
                for p in (
                    _when(merged.get("viewing_ms"), zone),
                    _text(merged.get("viewing_place")),
                )
                if p
            )
            rows.append(
                _row(
                    entry,
                    merged,
                    zone,
                    counterpart=_text(merged.get("requester")),
                    form=_label(_REQUEST_KINDS, merged.get("request_kind")),
                    officer=_text(merged.get("officer")) or entry.actor,
                    requester_kind=_label(_REQUESTER_KINDS, merged.get("requester_kind")),
                    identity_check=_text(merged.get("identity_check")),
                    received=_when(merged.get("received_ms", entry.ts_ms), zone),
                    due=_when(merged.get("due_ms"), zone, date_only=True),
                    decision=_label(_DECISIONS, merged.get("decision")),
                    notice=_when(merged.get("notice_ms"), zone),
                    viewing_schedule=schedule,
                    officer_present=_text(merged.get("officer_present")),
                    refusal_reason=_text(merged.get("refusal_reason")),
                )
            )
    return rows
