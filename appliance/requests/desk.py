"""What the officer's request desk reads: the list with days left and filters, the home page's
counts, a request's history from the ledger, the status changes an agency polls, and the
cameras an agency may name.

The rules are pure functions (``days_left``, ``DeskFilter.matches``, ``summarize``,
``points_to_police``), tested without a database; ``DeskReads`` runs the reads. The pages add no
rule of their own (design/web.md): whatever they show is computed here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from appliance.ledger import EventType
from appliance.models import Camera, DestructionRecord, FootageRequest, RequestExport
from appliance.requests._stage import Stage
from appliance.requests.deadlines import DeadlineEntry
from appliance.requests.kinds import Channel, RequesterKind, RequestKind, RequestState
from appliance.requests.workflow import DeadlineStatus

__all__ = [
    "WEEK_DAYS",
    "AgencyEvent",
    "DeskFilter",
    "DeskReads",
    "DeskRow",
    "DeskSummary",
    "HistoryItem",
    "days_left",
    "desk_row",
    "points_to_police",
    "sort_rows",
    "summarize",
]

#: "Due this week" on the home page: the notice is due within this many calendar days.
WEEK_DAYS = 7
#: Statuses whose clock still runs (the notice has not gone out).
_RUNNING = frozenset({DeadlineStatus.open, DeadlineStatus.due_soon, DeadlineStatus.overdue})
# Words of a crime or theft case (17.1.1: pointed to the police first). Korean words match as
# substrings (particles attach to them); English words as whole words.
_POLICE_KO = ("도난", "절도", "훔", "도둑", "분실", "범죄", "폭행", "상해", "강도", "사기", "수사")
_POLICE_EN = re.compile(
    r"\b(theft|thief|stole|stolen|steal|crime|criminal|assault|robbery)\b", re.I
)


def _local_day(ms: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=zone).date()


def days_left(deadline_ms: int, now_ms: int, zone: ZoneInfo) -> int:
    """Calendar days (site zone) from today to the deadline's last day: 0 on the last day,
    negative once it has passed. ``deadline_ms`` is exclusive (the next day's 00:00), as
    ``workflow.deadline_ms`` gives it."""
    return (_local_day(deadline_ms - 1, zone) - _local_day(now_ms, zone)).days


def points_to_police(text: str) -> bool:
    """True when a request's reason reads like a crime or theft case, which the policy points
    to the police first (17.1.1): the desk then shows that advice (the officer decides)."""
    return any(word in text for word in _POLICE_KO) or bool(_POLICE_EN.search(text))


@dataclass(frozen=True)
class DeskRow:
    """One request on the desk: its deadline now, in calendar days."""

    request: FootageRequest
    status: DeadlineStatus
    deadline_ms: int | None
    days_left: int | None  # None once the notice went out or the request closed

    @property
    def due_soon(self) -> bool:
        return self.status is DeadlineStatus.due_soon

    @property
    def overdue(self) -> bool:
        return self.status is DeadlineStatus.overdue


def desk_row(entry: DeadlineEntry, now_ms: int, zone: ZoneInfo) -> DeskRow:
    running = entry.status in _RUNNING and entry.deadline_ms is not None
    left = days_left(entry.deadline_ms, now_ms, zone) if running and entry.deadline_ms else None
    return DeskRow(entry.request, entry.status, entry.deadline_ms, left)


@dataclass(frozen=True)
class DeskFilter:
    """The list's filters; ``closed`` also lists closed requests (searchable by ``text``)."""

    state: RequestState | None = None
    kind: RequestKind | None = None
    requester_kind: RequesterKind | None = None
    from_day: date | None = None  # received on or after (site zone)
    to_day: date | None = None  # received on or before
    text: str = ""
    closed: bool = False

    def matches(self, request: FootageRequest, zone: ZoneInfo) -> bool:
        if not self.closed and request.state == RequestState.closed.value:
            return False
        if self.state is not None and request.state != self.state.value:
            return False
        if self.kind is not None and request.kind != self.kind.value:
            return False
        if self.requester_kind is not None and request.requester_kind != self.requester_kind:
            return False
        received = _local_day(request.received_ms, zone)
        if self.from_day is not None and received < self.from_day:
            return False
        if self.to_day is not None and received > self.to_day:
            return False
        if self.text:
            needle = self.text.casefold()
            haystack = " ".join(
                (
                    f"#{request.id}",
                    request.requester_name,
                    request.requester_org,
                    request.letter_reference,
                    request.subject_description,
                    request.purpose,
                    " ".join(request.camera_ids),
                )
            ).casefold()
            if needle not in haystack:
                return False
        return True


def _sort_key(row: DeskRow) -> tuple[int, int, int]:
    # Running clocks first, soonest deadline first; then the rest, newest first.
    if row.days_left is not None and row.deadline_ms is not None:
        return (0, row.deadline_ms, 0)
    return (1, -row.request.received_ms, -(row.request.id or 0))


def sort_rows(rows: Sequence[DeskRow]) -> list[DeskRow]:
    return sorted(rows, key=_sort_key)


@dataclass(frozen=True)
class DeskSummary:
    """The officer's home page: what is due this week, what is overdue, what just arrived
    from an agency (received through the API, identity not yet checked)."""

    open_count: int
    due_this_week: int
    overdue: int
    new_agency: tuple[int, ...] = field(default_factory=tuple)


def summarize(rows: Sequence[DeskRow]) -> DeskSummary:
    """Counts over open requests' rows (pure)."""
    due_week = sum(1 for r in rows if r.days_left is not None and 0 <= r.days_left < WEEK_DAYS)
    overdue = sum(1 for r in rows if r.overdue)
    new = tuple(
        r.request.id or 0
        for r in rows
        if r.request.channel == Channel.api.value and r.request.state == RequestState.received.value
    )
    return DeskSummary(len(rows), due_week, overdue, new)


@dataclass(frozen=True)
class HistoryItem:
    """One ledger entry about a request (its own, its hold's, its exports')."""

    seq: int
    ts_ms: int
    event: str
    actor: str
    data: dict[str, Any]

    @property
    def state(self) -> str:
        value = self.data.get("state", "")
        return value if isinstance(value, str) else ""

    @property
    def action(self) -> str:
        value = self.data.get("action", "")
        return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class AgencyEvent:
    """A status change an agency may see of its own request (no staff names)."""

    seq: int
    ts_ms: int
    state: str
    action: str
    decision: str | None


_HISTORY_LIMIT = 1000
# A ref is only unique within its kind of event (a hold id and a request id may be equal).
_REQUEST_EVENTS = frozenset(
    e.value
    for e in (
        EventType.request_received,
        EventType.request_state,
        EventType.document_attached,
        EventType.document_read,
        EventType.document_destroyed,
        EventType.onsite_viewing,
        EventType.provision,
        EventType.handover_record,
    )
)
_HOLD_EVENTS = frozenset(
    e.value for e in (EventType.hold_placed, EventType.hold_released, EventType.hold_narrowed)
)
_EXPORT_EVENTS = frozenset({EventType.export_created.value, EventType.export_destroyed.value})


class DeskReads(Stage):
    """The desk's reads over the request rows and the ledger."""

    def rows(self, entries: Sequence[DeadlineEntry]) -> list[DeskRow]:
        now = self._now()
        return [desk_row(e, now, self._ctx.settings.zone) for e in entries]

    def days_left(self, deadline_ms: int) -> int:
        return days_left(deadline_ms, self._now(), self._ctx.settings.zone)

    def history(self, request_id: int) -> list[HistoryItem]:
        """Every ledger entry about the request in seq order: receipt, state changes,
        documents, viewing and provision (ref = the request id), its hold's (ref = the hold
        id) and its exports' (ref = the export id)."""
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            export_ids = list(
                session.exec(
                    select(RequestExport.id).where(RequestExport.request_id == request_id)
                ).all()
            )
        refs = [str(request_id)]
        hold_refs = [str(request.hold_id)] if request.hold_id is not None else []
        entries = self._ctx.ledger.entries(
            refs=refs, events=[EventType(e) for e in _REQUEST_EVENTS], limit=_HISTORY_LIMIT
        )
        if hold_refs:
            entries += self._ctx.ledger.entries(
                refs=hold_refs, events=[EventType(e) for e in _HOLD_EVENTS], limit=_HISTORY_LIMIT
            )
        if export_ids:
            entries += self._ctx.ledger.entries(
                refs=export_ids,
                events=[EventType(e) for e in _EXPORT_EVENTS],
                limit=_HISTORY_LIMIT,
            )
        # Some events share a ref with other kinds of rows (a hold id is also a number):
        # keep the request's own, and hold and export events that name it.
        kept = [
            e
            for e in entries
            if (e.ref == str(request_id) and e.event in _REQUEST_EVENTS)
            or (e.ref in hold_refs and e.event in _HOLD_EVENTS)
            or (e.ref in export_ids and e.event in _EXPORT_EVENTS)
        ]
        unique = {e.seq: e for e in kept}
        return [
            HistoryItem(e.seq, e.ts_ms, e.event, e.actor, dict(e.data))
            for e in sorted(unique.values(), key=lambda e: e.seq)
        ]

    def agency_events(
        self, request_id: int, agency_user_id: int, since_seq: int
    ) -> list[AgencyEvent]:
        """The state changes of an agency's own request after ``since_seq`` (NotFound for a
        request that is not its own)."""
        with self._ctx.db.session() as session:
            self._load(session, request_id, agency_user_id)
        entries = self._ctx.ledger.entries(
            after_seq=since_seq,
            refs=[str(request_id)],
            events=(EventType.request_received, EventType.request_state),
            limit=_HISTORY_LIMIT,
        )
        events = []
        for e in entries:
            if e.event == EventType.request_received.value:
                state, action = RequestState.received.value, "receive"
            else:
                state, action = str(e.data.get("state", "")), str(e.data.get("action", ""))
            decision = e.data.get("decision")
            events.append(
                AgencyEvent(
                    e.seq,
                    e.ts_ms,
                    state,
                    action,
                    decision if isinstance(decision, str) and decision else None,
                )
            )
        return events

    def cameras(self) -> list[Camera]:
        """Every camera's id, name and location (what an agency names in a request)."""
        with self._ctx.db.session() as session:
            return list(session.exec(select(Camera).order_by(col(Camera.id))).all())

    def destruction(self, record_ids: Sequence[int]) -> list[DestructionRecord]:
        """The destruction records named (a refusal cites them), in id order."""
        if not record_ids:
            return []
        query = (
            select(DestructionRecord)
            .where(col(DestructionRecord.id).in_(list(record_ids)))
            .order_by(col(DestructionRecord.id))
        )
        with self._ctx.db.session() as session:
            return list(session.exec(query).all())
