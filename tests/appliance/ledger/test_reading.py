"""Reading the ledgers (appliance.ledger.reading): day ranges, filters, the recorded read."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from appliance.clock import to_ms
from appliance.errors import Conflict, LedgerUnavailable, ValidationFailed
from appliance.ledger import EventType
from appliance.ledger import reading as reading_module
from appliance.ledger.management import ManagementKind
from appliance.ledger.reading import (
    MAX_RANGE_DAYS,
    DayRange,
    day_range,
    executed_by,
    management_query,
    parse_day,
    parse_kinds,
    read_destruction,
    read_management,
    verify_once,
)
from appliance.models import DestructionRecord
from tests.support.ledger import Backend

SEOUL = ZoneInfo("Asia/Seoul")
NOW_MS = to_ms(datetime(2024, 3, 10, 2, 0, tzinfo=UTC))  # 11:00 on 10 March in Seoul


def test_day_range_defaults_to_today_in_the_site_zone() -> None:
    span = day_range(None, None, SEOUL, NOW_MS)
    assert (span.first, span.last) == (date(2024, 3, 10), date(2024, 3, 10))
    assert span.from_ms == to_ms(datetime(2024, 3, 10, tzinfo=SEOUL))
    assert span.to_ms - span.from_ms == 86_400_000
    assert span.text == "2024-03-10"


def test_day_range_fills_one_end_from_the_other() -> None:
    assert day_range(date(2024, 3, 1), None, SEOUL, NOW_MS).last == date(2024, 3, 10)
    assert day_range(date(2024, 4, 1), None, SEOUL, NOW_MS).last == date(2024, 4, 1)
    assert day_range(None, date(2024, 2, 1), SEOUL, NOW_MS).first == date(2024, 2, 1)
    assert day_range(date(2024, 3, 1), date(2024, 3, 2), SEOUL, NOW_MS).text == (
        "2024-03-01 ~ 2024-03-02"
    )


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (date(2024, 3, 2), date(2024, 3, 1), "is after"),
        (date(1999, 12, 31), date(2024, 3, 1), "outside"),
        (date(2024, 1, 1), date(3000, 1, 1), "outside"),
        (date(2023, 1, 1), date(2024, 1, 2), f"at most {MAX_RANGE_DAYS}"),
    ],
)
def test_day_range_refuses(first: date, last: date, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        day_range(first, last, SEOUL, NOW_MS)


def test_parse_day_and_kinds() -> None:
    assert parse_day("", "from") is None
    assert parse_day("2024-03-01", "from") == date(2024, 3, 1)
    with pytest.raises(ValidationFailed, match="'to' '2024-13-01' is not a date"):
        parse_day("2024-13-01", "to")
    assert parse_kinds([]) is None
    assert parse_kinds(["viewing", "viewing"]) == frozenset({ManagementKind.viewing})
    with pytest.raises(ValidationFailed, match="unknown type 'nope'"):
        parse_kinds(["nope"])


def test_management_query_normalises_empty_filters() -> None:
    span = DayRange(date(2024, 3, 1), date(2024, 3, 1), 1, 2)
    query = management_query(span, [], "", "  ")
    assert (query.kinds, query.camera_id, query.person) == (None, None, None)
    query = management_query(span, [ManagementKind.viewing], "cam01", " kim ")
    assert (query.kinds, query.camera_id, query.person) == (
        frozenset({ManagementKind.viewing}),
        "cam01",
        "kim",
    )


def _record(by: str) -> DestructionRecord:
    return DestructionRecord(executed_ms=1, method="m", reason="r", executed_by=by)


def test_executed_by_matches_part_of_the_name_case_folded() -> None:
    records = [_record("Retention"), _record("admin kim")]
    assert executed_by(records, None) == records
    assert executed_by(records, "  ") == records
    assert [r.executed_by for r in executed_by(records, "KIM")] == ["admin kim"]


def test_reads_are_recorded_before_rows_are_returned(sqlite_backend: Backend) -> None:
    ledger = sqlite_backend.ledger
    span = day_range(None, None, SEOUL, NOW_MS)
    ledger.append(EventType.logout, actor="kim")
    _query, rows = read_management(
        ledger, "auditor", span, "csv", kinds=[ManagementKind.viewing], camera="cam01"
    )
    assert rows == []
    chosen = read_destruction(
        ledger, "auditor", span, "json", [_record("admin kim"), _record("lee")], person="kim"
    )
    assert [r.executed_by for r in chosen] == ["admin kim"]
    reads = ledger.entries(events=[EventType.ledger_read])
    assert [(e.actor, e.camera_id, e.data["ledger"], e.data["rows"]) for e in reads] == [
        ("auditor", "cam01", "management", 0),
        ("auditor", None, "destruction", 1),
    ]
    assert reads[0].data["filters"] == {"types": ["viewing"], "camera": "cam01", "person": ""}
    assert reads[1].data["filters"] == {"types": [], "camera": "", "person": "kim"}


def test_a_read_that_cannot_be_recorded_returns_nothing(sqlite_backend: Backend) -> None:
    sqlite_backend.execute("ALTER TABLE ledger_entry RENAME TO ledger_entry_gone")
    span = day_range(None, None, SEOUL, NOW_MS)
    with pytest.raises(LedgerUnavailable):
        read_destruction(sqlite_backend.ledger, "auditor", span, "json", [_record("kim")])


def test_one_verification_at_a_time(sqlite_backend: Backend) -> None:
    assert verify_once(sqlite_backend.ledger).ok
    lock: threading.Lock = reading_module._VERIFYING
    with lock, pytest.raises(Conflict, match="already running"):
        verify_once(sqlite_backend.ledger)
    assert verify_once(sqlite_backend.ledger).ok  # released after the refusal
