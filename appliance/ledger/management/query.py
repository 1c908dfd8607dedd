"""Reading the management ledger: the entries of a range, their ends and states, filtered."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from appliance.ledger.events import EventType
from appliance.ledger.management.rows import (
    EVENT_KINDS,
    ManagementKind,
    ManagementRow,
    build_rows,
    cameras_of,
)
from appliance.ledger.store import Entry, Ledger

__all__ = ["ManagementQuery", "management_rows"]


@dataclass(frozen=True)
class ManagementQuery:
    """Filters: entries with ``from_ms <= ts_ms < to_ms``; kinds, a camera, a person (substring)."""

    from_ms: int
    to_ms: int
    kinds: frozenset[ManagementKind] | None = None
    camera_id: str | None = None
    person: str | None = None


def _people(row: ManagementRow, entry: Entry) -> list[str]:
    return [
        entry.actor,
        row.officer,
        row.witness,
        row.counterpart,
        row.destroyed_by,
        row.officer_present,
    ]


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def management_rows(ledger: Ledger, query: ManagementQuery) -> list[ManagementRow]:
    """Read the entries of ``query``'s range and build its rows, filtered."""
    kinds = query.kinds or frozenset(ManagementKind)
    events = [event for event, kind in EVENT_KINDS.items() if kind in kinds]
    entries = ledger.entries(from_ms=query.from_ms, to_ms=query.to_ms, events=events, limit=None)
    if query.camera_id is not None:
        entries = [e for e in entries if query.camera_id in cameras_of(e)]
    related: list[Entry] = []
    wanted = {
        EventType.view_live_start.value: EventType.view_live_end,
        EventType.view_recorded_start.value: EventType.view_recorded_end,
        EventType.request_received.value: EventType.request_state,
    }
    for start_event, follow in wanted.items():
        refs = sorted({e.ref for e in entries if e.event == start_event and e.ref})
        for chunk in _chunks(refs):
            # Ends and state changes come after their start, so the range's start bounds them.
            related += ledger.entries(
                from_ms=query.from_ms, events=[follow], refs=chunk, limit=None
            )
    rows = build_rows(entries, related, ledger.zone)
    if query.person:
        needle = query.person.casefold()
        by_seq = {e.seq: e for e in entries}
        rows = [
            row
            for row in rows
            if any(needle in p.casefold() for p in _people(row, by_seq[row.seq]) if p)
        ]
    return rows
