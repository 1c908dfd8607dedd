"""The management ledger (관리대장) for a sample day: rows, filters, CSV and the printed page."""

from __future__ import annotations

import csv
import io
from dataclasses import fields
from datetime import datetime, timedelta

from appliance.clock import FakeClock, to_ms
from appliance.ledger import EventType
from appliance.ledger.management import (
    COLUMNS,
    ManagementKind,
    ManagementQuery,
    ManagementRow,
    management_rows,
    to_csv,
    to_html,
)
from appliance.ledger.store import Ledger
from tests.support.ledger import Backend


def _sample_day(ledger: Ledger, clock: FakeClock) -> tuple[int, int]:
    """2026-03-02 (KST): a live view, a request, an on-site viewing, a provision, a purge ..."""
    zone = ledger.zone
    day = datetime(2026, 3, 2, tzinfo=zone)
    clock.set(day + timedelta(hours=9))
    footage = {
        "from_ms": to_ms(day - timedelta(hours=14)),
        "to_ms": to_ms(day - timedelta(hours=13)),
    }

    ledger.append(EventType.login_success, actor="lee", data={"username": "lee"})
    ledger.append(
        EventType.view_live_start,
        actor="lee",
        data={"purpose": "시설 안전 점검", "cameras": ["cam01", "cam02"]},
        ref="v1",
    )
    clock.advance(timedelta(minutes=20))
    ledger.append(EventType.view_live_end, actor="lee", ref="v1")
    ledger.append(
        EventType.request_received,
        actor="kim",
        ref="r1",
        data={
            "requester": "홍길동",
            "requester_kind": "subject",
            "request_kind": "viewing",
            "identity_check": "신분증(주민등록증) 확인",
            "received_ms": clock.now_ms(),
            "due_ms": to_ms(day + timedelta(days=10)),
            "purpose": "분실물 확인",
            "cameras": ["cam01"],
            **footage,
        },
    )
    clock.advance(timedelta(hours=2))
    ledger.append(
        EventType.request_state,
        actor="kim",
        ref="r1",
        data={
            "state": "scheduled",
            "decision": "accepted",
            "notice_ms": clock.now_ms(),
            "viewing_ms": to_ms(day + timedelta(hours=15)),
            "viewing_place": "본원 회의실",
            "officer_present": "김보호",
        },
    )
    clock.set(day + timedelta(hours=15))
    ledger.append(
        EventType.onsite_viewing,
        actor="kim",
        ref="r1",
        camera_id="cam01",
        data={
            "requester": "홍길동",
            "purpose": "분실물 확인",
            "officer": "김보호",
            "witness": "박입회",
            "place": "본원 회의실",
            "masking": True,
            **footage,
        },
    )
    ledger.append(
        EventType.provision,
        actor="kim",
        ref="r2",
        data={
            "recipient": "서울강남경찰서 수사과",
            "purpose": "절도 사건 수사",
            "legal_basis": "개인정보 보호법 제18조 제2항 제7호",
            "form": "USB 사본 (암호화)",
            "masking": True,
            "period": "수사 종결 시까지",
            "officer": "김보호",
            "cameras": ["cam03"],
            **footage,
        },
    )
    ledger.append(
        EventType.export_created,
        actor="kim",
        ref="x1",
        data={"purpose": '=HYPERLINK("http://evil")', "cameras": ["cam03"], "masking": True},
    )
    clock.set(day + timedelta(hours=23, minutes=59))
    ledger.append(
        EventType.purge,
        actor="retention",
        camera_id="cam02",
        data={
            "from_ms": to_ms(day - timedelta(days=31)),
            "to_ms": to_ms(day - timedelta(days=30)),
            "segments": 1440,
            "size_bytes": 43_000_000_000,
            "method": "암호키 파기 및 파일 삭제",
            "reason": "보관기간(30일) 경과",
        },
    )
    clock.set(day + timedelta(days=1, hours=1))
    ledger.append(EventType.view_recorded_start, actor="lee", data={"purpose": "다음 날"}, ref="v2")
    return to_ms(day), to_ms(day + timedelta(days=1))


def test_columns_cover_every_field() -> None:
    assert [name for name, _ in COLUMNS] == [f.name for f in fields(ManagementRow)]


def test_rows_for_a_sample_day(backend: Backend, clock: FakeClock) -> None:
    start, end = _sample_day(backend.ledger, clock)
    rows = management_rows(backend.ledger, ManagementQuery(start, end))
    assert [r.kind for r in rows] == ["열람", "요청", "열람", "제공", "이용", "파기"]
    live, request, onsite, provision, export, purge = rows

    assert live.counterpart == "lee" and live.purpose == "시설 안전 점검"
    assert live.target == "cam01, cam02" and live.form == "실시간 열람"
    assert live.period == "2026-03-02 09:00 ~ 2026-03-02 09:20"

    assert request.counterpart == "홍길동" and request.requester_kind == "정보주체"
    assert request.form == "열람" and request.identity_check.startswith("신분증")
    assert request.received == "2026-03-02 09:20" and request.due == "2026-03-12"
    assert request.decision == "승인" and request.notice == "2026-03-02 11:20"
    assert request.viewing_schedule == "2026-03-02 15:00 본원 회의실"
    assert request.officer_present == "김보호"
    assert request.footage_range == "2026-03-01 10:00 ~ 2026-03-01 11:00"

    assert onsite.officer == "김보호" and onsite.witness == "박입회"
    assert onsite.masking == "적용" and onsite.counterpart == "홍길동"

    assert provision.counterpart == "서울강남경찰서 수사과"
    assert provision.legal_basis.startswith("개인정보 보호법")
    assert provision.form == "USB 사본 (암호화)" and provision.period == "수사 종결 시까지"

    assert export.officer == "kim"
    assert purge.destroyed_by == "retention" and purge.destroyed_at == "2026-03-02 23:59"
    assert purge.destruction_method == "암호키 파기 및 파일 삭제"
    assert purge.purpose == "보관기간(30일) 경과" and "세그먼트 1440개" in purge.target


def test_filters(backend: Backend, clock: FakeClock) -> None:
    start, end = _sample_day(backend.ledger, clock)
    ledger = backend.ledger

    def kinds(**kw: object) -> list[str]:
        return [r.kind for r in management_rows(ledger, ManagementQuery(start, end, **kw))]  # type: ignore[arg-type]

    assert kinds(kinds=frozenset({ManagementKind.destruction})) == ["파기"]
    assert kinds(kinds=frozenset({ManagementKind.viewing, ManagementKind.request})) == [
        "열람",
        "요청",
        "열람",
    ]
    assert kinds(camera_id="cam03") == ["제공", "이용"]
    assert kinds(camera_id="cam02") == ["열람", "파기"]
    assert kinds(person="박입회") == ["열람"]
    assert kinds(person="LEE") == ["열람"]  # case-insensitive, the actor counts
    assert kinds(person="홍길동") == ["요청", "열람"]
    next_day = management_rows(ledger, ManagementQuery(end, end + 86_400_000))
    assert [r.purpose for r in next_day] == ["다음 날"]


def test_csv_and_printable_page_have_korean_headers(backend: Backend, clock: FakeClock) -> None:
    start, end = _sample_day(backend.ledger, clock)
    rows = management_rows(backend.ledger, ManagementQuery(start, end))
    text = to_csv(rows)
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:4] == ["원장 번호", "구분", "일시", "대상 (카메라·파일)"]
    assert "파기 방법" in table[0] and "거부 사유" in table[0] and "신원 확인" in table[0]
    assert len(table) == 1 + len(rows)
    assert table[5][table[0].index("목적·사유")].startswith("'=HYPERLINK")  # not a formula

    html = to_html(
        rows,
        site_name="테스트의원",
        officer="김보호 (대표원장)",
        range_text="2026-03-02",
        generated_at="2026-03-03 09:00",
        tip_text="seq 12",
    )
    assert "<th>구분</th>" in html and "<th>파기 처리자</th>" in html
    assert "서울강남경찰서 수사과" in html and "개인영상정보 관리대장" in html
    assert "=HYPERLINK(&#34;http://evil&#34;)" in html  # escaped
    assert "해당 기간에 기록이 없습니다" in to_html(
        [], site_name="x", officer="x", range_text="x", generated_at="x", tip_text="x"
    )
