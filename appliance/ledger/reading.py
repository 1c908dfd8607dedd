"""Reading the ledgers: the days asked for, the filters, and the ``ledger_read`` entry.

Who viewed what is itself personal data, so reading a ledger is recorded in the ledger before
any row is shown (R-SEC-3): ``record_read`` appends ``ledger_read`` and fails closed with
``LedgerUnavailable`` (503), so a read that cannot be recorded shows nothing. The web API and
the ledger page (``api.routes.ledger``, ``api.routes.ledger_pages``) both read through here.

The destruction ledger's records are listed by ``appliance.retention.destruction`` (the
retention package depends on this one, not the other way round); ``read_destruction`` filters
and records them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from appliance.clock import from_ms, to_ms
from appliance.errors import Conflict, ValidationFailed
from appliance.ledger.events import EventType
from appliance.ledger.management import (
    KIND_LABELS,
    ManagementKind,
    ManagementQuery,
    ManagementRow,
    management_rows,
)
from appliance.ledger.store import Ledger
from appliance.ledger.verify import VerifyReport
from appliance.models import DestructionRecord

__all__ = [
    "MAX_RANGE_DAYS",
    "DayRange",
    "day_range",
    "executed_by",
    "kind_of",
    "management_query",
    "parse_day",
    "parse_kinds",
    "read_destruction",
    "read_management",
    "record_read",
    "verify_once",
]

MAX_RANGE_DAYS = 366  # a leap year: one query never reads more than a year of entries
_EARLIEST = date(2000, 1, 1)  # dates outside this window are typos (and would overflow)
_LATEST = date(2999, 12, 31)
_LABEL_KINDS = {label: kind for kind, label in KIND_LABELS.items()}
# One verification at a time: it is CPU-bound (seconds on a large ledger).
_VERIFYING = threading.Lock()


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


def kind_of(row: ManagementRow) -> ManagementKind:
    """The row type of a row (its ``kind`` is the Korean label)."""
    return _LABEL_KINDS[row.kind]


def executed_by(
    records: Iterable[DestructionRecord], person: str | None
) -> list[DestructionRecord]:
    """The records whose executor's name contains ``person`` (case-folded); all when empty."""
    needle = (person or "").strip().casefold()
    if not needle:
        return list(records)
    return [r for r in records if needle in r.executed_by.casefold()]


# -- reading, recorded first ------------------------------------------------------------------


def record_read(
    ledger: Ledger,
    actor: str,
    which: str,
    span: DayRange,
    format_: str,
    rows: int,
    *,
    types: Iterable[str] = (),
    camera: str | None = None,
    person: str | None = None,
) -> None:
    """Write the read of ledger ``which`` into the ledger before anything is shown (R-SEC-3);
    fails closed with LedgerUnavailable (503), so a read that cannot be recorded shows nothing."""
    ledger.append(
        EventType.ledger_read,
        actor=actor,
        camera_id=camera or None,
        data={
            "ledger": which,
            "from_ms": span.from_ms,
            "to_ms": span.to_ms,
            "format": format_,
            "rows": rows,
            "filters": {"types": sorted(types), "camera": camera or "", "person": person or ""},
        },
    )


def read_management(
    ledger: Ledger,
    actor: str,
    span: DayRange,
    format_: str,
    *,
    kinds: Sequence[ManagementKind] | None = None,
    camera: str | None = None,
    person: str | None = None,
) -> tuple[ManagementQuery, list[ManagementRow]]:
    """The management ledger's rows of ``span`` matching the filters; the read is recorded
    (``ledger_read``) before they are returned."""
    query = management_query(span, kinds, camera, person)
    rows = management_rows(ledger, query)
    record_read(
        ledger, actor, "management", span, format_, len(rows),
        types=[k.value for k in kinds or ()], camera=camera, person=person,
    )  # fmt: skip
    return query, rows


def read_destruction(
    ledger: Ledger,
    actor: str,
    span: DayRange,
    format_: str,
    records: Iterable[DestructionRecord],
    *,
    camera: str | None = None,
    person: str | None = None,
) -> list[DestructionRecord]:
    """The destruction records of ``span`` (listed by the caller for ``camera``) whose executor
    matches ``person``; the read is recorded (``ledger_read``) before they are returned."""
    chosen = executed_by(records, person)
    record_read(
        ledger, actor, "destruction", span, format_, len(chosen), camera=camera, person=person
    )
    return chosen


def verify_once(ledger: Ledger) -> VerifyReport:
    """``ledger.verify()`` with the heads' continuity (a running appliance signs heartbeat
    heads), one at a time in this process; Conflict while one is running."""
    if not _VERIFYING.acquire(blocking=False):
        raise Conflict("a verification is already running; try again when it has finished")
    try:
        return ledger.verify(continuity=True)
    finally:
        _VERIFYING.release()
