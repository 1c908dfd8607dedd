"""The request desk's pure rules: days left in the site's calendar days, the list's filter and
order, the home page's counts, and the crime/theft advice (17.1.1)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from appliance.models import FootageRequest
from appliance.requests import (
    Channel,
    DeadlineEntry,
    DeadlineStatus,
    DeskFilter,
    RequesterKind,
    RequestKind,
    RequestState,
    days_left,
    deadline_ms,
    points_to_police,
)
from appliance.requests.desk import desk_row, sort_rows, summarize

SEOUL = ZoneInfo("Asia/Seoul")


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=SEOUL).timestamp() * 1000)


def _request(rid: int, received: str, **values: object) -> FootageRequest:
    base: dict[str, Any] = {
        "id": rid,
        "kind": RequestKind.viewing.value,
        "state": RequestState.received.value,
        "channel": Channel.in_person.value,
        "requester_kind": RequesterKind.subject.value,
        "requester_name": "홍길동",
        "camera_ids": ["cam01"],
        "start_ms": 0,
        "end_ms": 1000,
        "received_ms": _ms(received),
        "received_by": "officer1",
        "due_ms": deadline_ms(_ms(received), SEOUL),
    }
    base.update(values)
    return FootageRequest(**base)


def test_days_left_counts_seoul_calendar_days() -> None:
    # Received 3 March: due by the end of 13 March (the day of receipt is not counted).
    due = deadline_ms(_ms("2025-03-03T23:30:00"), SEOUL)
    assert days_left(due, _ms("2025-03-03T23:59:00"), SEOUL) == 10
    assert days_left(due, _ms("2025-03-12T00:00:00"), SEOUL) == 1
    assert days_left(due, _ms("2025-03-13T00:00:00"), SEOUL) == 0  # the last day: due today
    assert days_left(due, _ms("2025-03-13T23:59:59"), SEOUL) == 0
    assert days_left(due, _ms("2025-03-14T00:00:00"), SEOUL) == -1  # one day overdue
    # 15:30 UTC on 13 March is already 14 March in Seoul: overdue there, whatever UTC says.
    utc = int(datetime(2025, 3, 13, 15, 30, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)
    assert days_left(due, utc, SEOUL) == -1


def test_rows_sort_by_deadline_and_count_for_the_home_page() -> None:
    now = _ms("2025-03-12T09:00:00")
    late = _request(1, "2025-03-01T10:00:00")
    soon = _request(2, "2025-03-03T10:00:00", channel=Channel.api.value,
                    requester_kind=RequesterKind.police.value)  # fmt: skip
    later = _request(3, "2025-03-11T10:00:00")
    done = _request(4, "2025-03-02T10:00:00", state=RequestState.notified.value)
    rows = [
        desk_row(DeadlineEntry(late, DeadlineStatus.overdue, late.due_ms), now, SEOUL),
        desk_row(DeadlineEntry(later, DeadlineStatus.open, later.due_ms), now, SEOUL),
        desk_row(DeadlineEntry(done, DeadlineStatus.met, None), now, SEOUL),
        desk_row(DeadlineEntry(soon, DeadlineStatus.due_soon, soon.due_ms), now, SEOUL),
    ]
    ordered = sort_rows(rows)
    assert [r.request.id for r in ordered] == [1, 2, 3, 4]
    assert [r.days_left for r in ordered] == [-1, 1, 9, None]
    summary = summarize(rows)
    assert summary.open_count == 4
    assert summary.overdue == 1
    assert summary.due_this_week == 1  # #2 (1 day); #1 is overdue, #3 has 9 days
    assert summary.new_agency == (2,)


def test_the_filter() -> None:
    request = _request(7, "2025-03-03T10:00:00", requester_org="강남경찰서",
                       letter_reference="수사과-1234")  # fmt: skip
    closed = _request(8, "2025-03-03T10:00:00", state=RequestState.closed.value)
    assert DeskFilter().matches(request, SEOUL)
    assert not DeskFilter().matches(closed, SEOUL)  # closed ones only when asked
    assert DeskFilter(closed=True, text="#8").matches(closed, SEOUL)
    assert DeskFilter(state=RequestState.received).matches(request, SEOUL)
    assert not DeskFilter(state=RequestState.decided).matches(request, SEOUL)
    assert DeskFilter(kind=RequestKind.viewing).matches(request, SEOUL)
    assert not DeskFilter(kind=RequestKind.copy).matches(request, SEOUL)
    assert not DeskFilter(requester_kind=RequesterKind.police).matches(request, SEOUL)
    assert DeskFilter(from_day=date(2025, 3, 3), to_day=date(2025, 3, 3)).matches(request, SEOUL)
    assert not DeskFilter(from_day=date(2025, 3, 4)).matches(request, SEOUL)
    assert not DeskFilter(to_day=date(2025, 3, 2)).matches(request, SEOUL)
    assert DeskFilter(text="수사과").matches(request, SEOUL)
    assert not DeskFilter(text="서초").matches(request, SEOUL)


def test_crime_and_theft_point_to_the_police() -> None:
    assert points_to_police("로비에서 지갑을 도난당했습니다")
    assert points_to_police("누가 가방을 훔쳐 갔어요")
    assert points_to_police("My phone was stolen in the lobby")
    assert points_to_police("폭행 사건 확인")
    assert not points_to_police("로비에서 넘어진 장면을 보고 싶습니다")
    assert not points_to_police("I fell in the lobby; the stealth mode of my phone")
