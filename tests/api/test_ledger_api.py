"""The ledgers over HTTP: the management and destruction ledgers of a sample day as JSON, CSV and
printable pages, filters, refusals (422, 401, 403), verification before and after tampering with
the SQLite file, and signed heads for witnessing."""

from __future__ import annotations

import csv
import io
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from appliance.access import Principal
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType, SignedHead
from appliance.ledger.management import COLUMNS
from appliance.retention import Retention
from appliance.retention.destruction import HEADERS_KO
from appliance.viewing import PurposeCategory, ViewingService, ViewKind, make_purpose
from tests.support.segments import DAY_MS, MINUTE_MS, make_segments
from tests.support.users import PASSWORD, Login, Staff

HEADERS = [header for _, header in COLUMNS]
DAY1, DAY2 = "2026-03-01", "2026-03-02"  # Asia/Seoul; the fake clock starts at 09:00 of DAY1


@dataclass(frozen=True)
class Sample:
    """What happened: an export on DAY1; on DAY2 (today) a live and a recorded viewing, a
    request with its decision, a provision and a retention purge."""

    live_ref: str
    request_ref: str
    purge_seq: int
    tamper_seq: int


def _login(app: FastAPI, username: str) -> Principal:
    principal: Principal = app.state.access.login(username, PASSWORD).principal
    return principal


@pytest.fixture
def sample(app: FastAPI, ctx: AppContext, clock: FakeClock, staff: Staff) -> Sample:
    ledger = ctx.ledger
    viewing: ViewingService = app.state.viewing
    ledger.append(
        EventType.export_created,
        actor="officer1",
        ref="exp-1",
        data={
            "purpose": "보험사 제출",
            "cameras": ["cam03"],
            "from_ms": clock.now_ms() - 3_600_000,
            "to_ms": clock.now_ms() - 3_000_000,
            "masking": True,
            "form": "copy on USB",
            "file": "exp-1.cctv",
            "blake2b": "00" * 32,
        },
    )
    clock.advance(timedelta(days=1, hours=1))  # DAY2, 10:00
    now = clock.now_ms()
    live = viewing.open(
        _login(app, "viewer1"),
        kind=ViewKind.live,
        cameras=["cam01"],
        purpose=make_purpose(PurposeCategory.incident.value, "로비 낙상 사고 확인"),
    )
    clock.advance(timedelta(minutes=5))
    viewing.end(_login(app, "viewer1"), live.id or 0)
    viewing.open(
        _login(app, "officer1"),
        kind=ViewKind.playback,
        cameras=["cam02"],
        purpose=make_purpose(PurposeCategory.safety.value, "복도 소화기 위치 확인"),
        start_ms=now - 7_200_000,
        end_ms=now - 3_600_000,
    )
    received = clock.now_ms()
    ledger.append(
        EventType.request_received,
        actor="officer1",
        ref="req-1",
        data={
            "requester": "홍길동",
            "requester_kind": "subject",
            "request_kind": "viewing",
            "identity_check": "주민등록증 확인",
            "received_ms": received,
            "due_ms": received + 10 * DAY_MS,
            "purpose": "본인 낙상 경위 확인",
            "cameras": ["cam01"],
            "from_ms": now - 7_200_000,
            "to_ms": now - 7_000_000,
        },
    )
    ledger.append(
        EventType.request_state,
        actor="officer1",
        ref="req-1",
        data={"state": "decided", "decision": "accepted", "viewing_place": "1층 상담실"},
    )
    ledger.append(
        EventType.provision,
        actor="officer1",
        ref="req-2",
        camera_id="cam02",
        data={
            "recipient": "강남경찰서",
            "purpose": "=HYPERLINK(1)",  # a formula must not run in a spreadsheet
            "legal_basis": "개인정보 보호법 제18조 제2항 제7호",
            "form": "copy on USB",
            "cameras": ["cam02"],
            "from_ms": now - 7_200_000,
            "to_ms": now - 3_600_000,
            "masking": True,
            "period": "수사 종료 시까지",
            "officer": "김보호",
        },
    )
    # Footage of cam03 older than the general group's 30 days: the retention cycle destroys it.
    old = now - 31 * DAY_MS
    make_segments(ctx, "cam03", [old, old + MINUTE_MS], size_bytes=300)
    Retention(ctx).run_cycle()
    purges = ledger.entries(events=[EventType.purge])
    assert len(purges) == 1
    views = ledger.entries(events=[EventType.view_live_start])
    return Sample(
        live_ref=views[0].ref or "",
        request_ref="req-1",
        purge_seq=purges[0].seq,
        tamper_seq=views[0].seq,
    )


def _rows(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


def test_management_ledger_of_the_sample_day(login: Login, sample: Sample) -> None:
    auditor = login("auditor1")
    body = auditor.get("/api/ledger/management").json()  # default: today, DAY2
    assert body["from_day"] == body["to_day"] == DAY2
    assert body["timezone"] == "Asia/Seoul"
    assert [c["header"] for c in body["columns"]] == HEADERS
    kinds = [row["kind"] for row in body["rows"]]
    assert kinds == ["열람", "열람", "요청", "제공", "파기"], kinds  # in ledger order
    assert body["count"] == 5 and body["tip"]["seq"] >= sample.purge_seq

    live, recorded, request, provision, purge = body["rows"]
    assert live["counterpart"] == "viewer1" and live["form"] == "on-screen viewing"
    assert live["period"] == "2026-03-02 10:00 ~ 2026-03-02 10:05"  # its end, matched by ref
    assert "로비 낙상 사고 확인" in live["purpose"] and live["target"] == "cam01"
    assert recorded["counterpart"] == "officer1" and recorded["masking"] == "미적용"
    assert recorded["footage_range"] == "2026-03-02 08:00 ~ 2026-03-02 09:00"
    assert request["counterpart"] == "홍길동" and request["requester_kind"] == "정보주체"
    assert request["decision"] == "승인" and request["due"] == "2026-03-12"
    assert request["viewing_schedule"] == "1층 상담실"
    assert provision["counterpart"] == "강남경찰서" and provision["masking"] == "적용"
    assert purge["seq"] == sample.purge_seq and purge["destroyed_by"] == "retention"
    assert "세그먼트 2개" in purge["target"]

    both = _rows(auditor.get("/api/ledger/management", params={"from": DAY1, "to": DAY2}))
    assert [r["kind"] for r in both] == ["이용", "열람", "열람", "요청", "제공", "파기"]
    day1 = _rows(auditor.get("/api/ledger/management", params={"from": DAY1, "to": DAY1}))
    assert [r["target"] for r in day1] == ["cam03 / exp-1.cctv"]


def test_filters(login: Login, sample: Sample) -> None:
    officer = login("officer1")

    def kinds(**params: Any) -> list[str]:
        return [r["kind"] for r in _rows(officer.get("/api/ledger/management", params=params))]

    assert kinds(type="viewing") == ["열람", "열람"]
    assert kinds(type=["request", "destruction"]) == ["요청", "파기"]
    assert kinds(camera="cam02") == ["열람", "제공"]
    assert kinds(camera="cam01") == ["열람", "요청"]
    assert kinds(person="홍길") == ["요청"]
    assert kinds(person="VIEWER1") == ["열람"]  # case-insensitive
    assert kinds(person="nobody") == []
    body = officer.get("/api/ledger/management", params={"type": ["use", "viewing"]}).json()
    assert body["types"] == ["use", "viewing"]


def test_management_csv_and_printable_page(login: Login, sample: Sample) -> None:
    auditor = login("auditor1")
    answer = auditor.get("/api/ledger/management", params={"format": "csv", "from": DAY1})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="management-ledger_2026-03-01_2026-03-02')
    assert "filename*=UTF-8''%EA%B0%9C" in disposition  # 개인영상정보_관리대장_...
    assert answer.headers["cache-control"] == "no-store"
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == HEADERS
    assert [r[1] for r in rows[1:]] == ["이용", "열람", "열람", "요청", "제공", "파기"]
    provision = rows[5]
    assert provision[HEADERS.index("목적·사유")] == "'=HYPERLINK(1)"
    assert provision[HEADERS.index("근거")] == "개인정보 보호법 제18조 제2항 제7호"

    page = auditor.get("/api/ledger/management", params={"format": "html", "type": "request"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]  # no script may run
    assert "default-src 'none'" in page.headers["content-security-policy"]
    text = page.text
    assert "개인영상정보 관리대장" in text and "<th>원장 번호</th>" in text
    assert "홍길동" in text and "강남경찰서" not in text  # only the request row
    assert "대상 기간: 2026-03-02 (요청)" in text and "테스트의원" in text
    assert "김보호 (원장단 대표원장)" in text


def test_destruction_ledger(login: Login, sample: Sample) -> None:
    officer = login("officer1")
    body = officer.get("/api/ledger/destruction").json()
    assert body["count"] == 1 and body["from_day"] == DAY2
    (row,) = body["rows"]
    assert row["camera_id"] == "cam03" and row["camera_name"] == "카메라 3"
    assert row["segment_count"] == 2 and row["size_bytes"] == 600
    assert row["reason"] == "retention" and row["reason_ko"] == "보관기간 경과"
    assert row["method_ko"] == "암호키 파기 후 파일 삭제 (복구 불가)"
    assert row["footage_range"] == "2026-01-30 10:00:00 ~ 2026-01-30 10:02:00"
    assert officer.get("/api/ledger/destruction", params={"camera": "cam01"}).json()["count"] == 0
    assert officer.get("/api/ledger/destruction", params={"person": "retent"}).json()["count"] == 1
    assert officer.get("/api/ledger/destruction", params={"to": DAY1}).json()["count"] == 0

    answer = officer.get("/api/ledger/destruction", params={"format": "csv"})
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="destruction-ledger_2026-03-02.csv"' in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf") and not answer.content.startswith(
        b"\xef\xbb\xbf\xef\xbb\xbf"  # one BOM, not two
    )
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADERS_KO and rows[1][2] == "카메라 3 (cam03)"

    page = officer.get("/api/ledger/destruction", params={"format": "html"})
    assert page.status_code == 200 and "개인영상정보 파기 대장" in page.text
    assert "<th>파기 방법</th>" in page.text and "보관기간 경과" in page.text


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("management", {"from": DAY2, "to": DAY1}, "is after"),
        ("management", {"from": "2025-01-01", "to": "2026-01-02"}, "at most 366"),
        ("management", {"from": "0001-01-01"}, "outside"),
        ("management", {"to": "9999-12-31"}, "outside"),
        ("management", {"type": "gossip"}, None),
        ("management", {"from": "2026-02-30"}, None),
        ("management", {"camera": "../etc"}, None),
        ("management", {"format": "xml"}, None),
        ("management", {"person": "x" * 101}, None),
        ("destruction", {"from": DAY2, "to": DAY1}, "is after"),
        ("destruction", {"from": "2020-01-01", "to": "2026-03-02"}, "at most 366"),
        ("heads/latest", {"format": "pdf"}, None),
    ],
)
def test_bad_input_is_a_422_with_a_reason(
    login: Login, staff: Staff, path: str, params: dict[str, str], reason: str | None
) -> None:
    answer = login("auditor1").get(f"/api/ledger/{path}", params=params)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail  # a string from the domain, or pydantic's list naming the parameter
    if reason is not None:
        assert reason in detail


def test_a_whole_leap_year_is_allowed(login: Login, staff: Staff) -> None:
    answer = login("auditor1").get(
        "/api/ledger/management", params={"from": "2024-01-01", "to": "2024-12-31"}
    )
    assert answer.status_code == 200 and answer.json()["count"] == 0


READ = [
    ("GET", "/api/ledger/management"),
    ("GET", "/api/ledger/management?format=csv"),
    ("GET", "/api/ledger/destruction?format=html"),
    ("GET", "/api/ledger/verify"),
    ("GET", "/api/ledger/heads/latest"),
]


def test_roles(app: FastAPI, login: Login, staff: Staff, anonymous: TestClient) -> None:
    agency = TestClient(app, headers={"Authorization": f"Bearer {staff.agency_token}"})
    viewer = login("viewer1")
    for method, url in [*READ, ("POST", "/api/ledger/heads")]:
        assert anonymous.request(method, url).status_code == 401, url
        for client in (viewer, agency):
            refused = client.request(method, url)
            assert refused.status_code == 403, (url, refused.status_code)
            assert refused.json()["detail"].startswith("this needs the role")
    auditor = login("auditor1")
    assert auditor.post("/api/ledger/heads").status_code == 403  # auditors read, never sign
    for username in ("admin1", "officer1"):
        assert login(username).post("/api/ledger/heads").status_code == 201
    for username in ("auditor1", "officer1"):
        client = login(username)
        for method, url in READ:
            assert client.request(method, url).status_code == 200, (username, url)
    # The admin keeps the box running: integrity yes, who viewed what no (R-SEC-2).
    admin = login("admin1")
    for method, url in READ:
        integrity = url in ("/api/ledger/verify", "/api/ledger/heads/latest")
        assert admin.request(method, url).status_code == (200 if integrity else 403), url


def test_verify_names_the_first_bad_entry_after_tampering(
    login: Login, ctx: AppContext, sample: Sample
) -> None:
    auditor = login("auditor1")
    report = auditor.get("/api/ledger/verify").json()
    assert report["ok"] is True and report["first_bad_seq"] is None
    assert report["entries_checked"] == report["last_seq"] == ctx.ledger.tip().seq
    assert report["problem"] is None and report["summary"].startswith("ledger verified")

    path = ctx.db.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:  # straight into the file, as an intruder would
        changed = conn.execute(
            "UPDATE ledger_entry SET actor = 'someone-else' WHERE seq = ?", (sample.tamper_seq,)
        ).rowcount
    assert changed == 1
    report = auditor.get("/api/ledger/verify").json()
    assert report["ok"] is False
    assert report["first_bad_seq"] == sample.tamper_seq
    assert f"entry {sample.tamper_seq}" in report["problem"]
    # The rows built from the tampered entry still show: reading never hides evidence.
    rows = _rows(auditor.get("/api/ledger/management", params={"type": "viewing"}))
    assert rows[0]["counterpart"] == "someone-else"


def test_signed_head_for_witnessing(login: Login, ctx: AppContext, sample: Sample) -> None:
    auditor = login("auditor1")
    signed = login("officer1").post("/api/ledger/heads")
    assert signed.status_code == 201
    head = signed.json()
    assert head["seq"] == ctx.ledger.tip().seq and head["kind"] == "head"
    assert f"seq   {head['seq']}" in head["text"]

    latest = auditor.get("/api/ledger/heads/latest")
    assert latest.json()["signature"] == head["signature"]
    # Saved as a file, the JSON is what `appliance ledger verify --head FILE` reads.
    exported = SignedHead.from_json(latest.text)
    assert exported.seq == head["seq"] and exported.hash_hex == head["hash"]
    assert ctx.ledger.verify(exported).ok

    text = auditor.get("/api/ledger/heads/latest", params={"format": "text"})
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == head["text"]
    assert head["hash"][:8] in text.text and head["key_id"] in text.text


def test_no_head_yet_is_a_404(login: Login, ctx: AppContext, staff: Staff) -> None:
    if ctx.ledger.latest_head() is not None:
        pytest.skip("initialisation signed a head")
    answer = login("auditor1").get("/api/ledger/heads/latest")
    assert answer.status_code == 404 and "no head" in answer.json()["detail"]


def test_reading_a_ledger_is_itself_recorded_and_fails_closed(
    login: Login, ctx: AppContext, sample: Sample
) -> None:
    """Who viewed what is personal data: each read is an entry (R-SEC-3), written before the
    rows are shown; when the ledger cannot be written nothing is shown."""
    auditor = login("auditor1")
    before = ctx.ledger.tip().seq
    answer = auditor.get("/api/ledger/management", params={"format": "csv", "camera": "cam01"})
    assert answer.status_code == 200
    (read,) = ctx.ledger.entries(after_seq=before, events=[EventType.ledger_read])
    assert read.actor.endswith("auditor1") and read.camera_id == "cam01"
    assert read.data["ledger"] == "management" and read.data["format"] == "csv"
    assert read.data["rows"] == len(list(csv.reader(io.StringIO(answer.text)))) - 1
    assert auditor.get("/api/ledger/destruction").status_code == 200
    kinds = [e.data["ledger"] for e in ctx.ledger.entries(events=[EventType.ledger_read])]
    assert kinds == ["management", "destruction"]

    with sqlite3.connect(ctx.db.url.removeprefix("sqlite:///")) as conn:
        conn.execute("DELETE FROM ledger_tip")  # a real broken ledger
    refused = auditor.get("/api/ledger/management", params={"format": "csv"})
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/json")  # no CSV at all
    assert refused.json()["error"] == "LedgerUnavailable"
