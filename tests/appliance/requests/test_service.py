"""RequestService against a real database, vault, ledger and retention: deletion, the
operating-room rule, postponement, withdrawal, fees, encrypted documents, fail closed."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from appliance.alarms import AlarmKind
from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import Conflict, LedgerUnavailable, PermissionDenied, ValidationFailed
from appliance.ledger import EventType
from appliance.models import Alarm, DestructionRecord, FootageRequest, Hold, Segment
from appliance.requests import (
    Channel,
    DeadlineStatus,
    Decision,
    DecisionInput,
    DocumentKind,
    NewRequest,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestService,
    RequestState,
    Upload,
)
from appliance.requests.daemon import create as create_deadline_daemon
from appliance.retention import get_hold
from appliance.settings import Settings
from tests.support.astronaut import astronaut_clip, store_segment
from tests.support.config import SettingsFactory, base_config
from tests.support.principals import OFFICER

HOUR = 3_600_000
DAY = 86_400_000


@pytest.fixture
def settings(make_settings: SettingsFactory, tmp_path: Any) -> Settings:
    cameras = base_config(tmp_path)["cameras"]
    cameras.append(
        {
            "id": "or01",
            "name": "수술실 1",
            "location": "3층 수술실",
            "location_type": "operating_room",
            "url": "rtsp://127.0.0.1:8554/or01",
            "group": "operating-room",
        }
    )
    return make_settings(cameras=cameras, requests={"hold_grace_days": 0})


@pytest.fixture
def service(ctx: AppContext) -> RequestService:
    return RequestService(ctx)


def _new(kind: RequestKind, camera: str, start: int, who: RequesterKind = RequesterKind.subject,
         **kw: Any) -> NewRequest:  # fmt: skip
    return NewRequest(kind, who, "홍길동", (camera,), start, start + 2000, **kw)


def _verified(service: RequestService, new: NewRequest, **kw: Any) -> FootageRequest:
    request = service.receive(OFFICER, new)
    assert request.id is not None
    return service.verify_identity(
        OFFICER, request.id, id_document="주민등록증", checked_by="officer1", **kw
    )


def test_deletion_releases_its_own_hold_and_destroys_the_footage(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    start = clock.now_ms() - HOUR
    store_segment(ctx, "cam01", start, astronaut_clip(2))
    request = _verified(service, _new(RequestKind.deletion, "cam01", start))
    assert request.id is not None and request.hold_id is not None
    assert service.propose(OFFICER, request.id).decision is Decision.accepted
    service.decide(OFFICER, request.id, DecisionInput(Decision.accepted))
    with pytest.raises(Conflict, match="that was notified"):
        service.execute_deletion(OFFICER, request.id)  # notify first
    service.notify(OFFICER, request.id, channel=Channel.mail)
    result = service.execute_deletion(OFFICER, request.id)
    assert result.segments == 1 and result.record_ids
    with ctx.db.session() as session:
        assert session.exec(select(Segment)).all() == []
        record = session.get(DestructionRecord, result.record_ids[0])
        assert record is not None and record.reason == "deletion request"
        assert not get_hold(session, request.hold_id).active
    assert service.get(OFFICER, request.id).state == RequestState.fulfilled.value
    service.close(OFFICER, request.id)


def test_operating_room_footage_follows_r_req_9(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    start = clock.now_ms() - HOUR
    store_segment(ctx, "or01", start, astronaut_clip(1))
    subject = _verified(service, _new(RequestKind.copy, "or01", start))
    assert subject.id is not None
    proposal = service.propose(OFFICER, subject.id)
    assert proposal.decision is Decision.refused and proposal.ground is RefusalGround.other_law
    with pytest.raises(PermissionDenied, match="R-REQ-9"):
        service.decide(OFFICER, subject.id, DecisionInput(Decision.accepted))
    consented = _verified(
        service, _new(RequestKind.copy, "or01", start), consent_ref="전원 동의서 2026-01"
    )
    assert consented.id is not None
    service.decide(OFFICER, consented.id, DecisionInput(Decision.accepted))
    mediation = _verified(
        service,
        _new(
            RequestKind.copy, "or01", start, RequesterKind.mediation, letter_reference="중재원-77"
        ),
    )
    assert mediation.id is not None
    assert service.propose(OFFICER, mediation.id).decision is Decision.accepted
    # Deleting operating-room footage within its 30-day minimum is refused by law.
    deletion = _verified(service, _new(RequestKind.deletion, "or01", start))
    assert deletion.id is not None
    assert service.propose(OFFICER, deletion.id).ground is RefusalGround.other_law


def test_postponement_then_decision_and_the_korean_notices(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    start = clock.now_ms() - HOUR
    request = _verified(service, _new(RequestKind.viewing, "cam01", start))
    assert request.id is not None
    until = clock.now_ms() + 20 * DAY
    service.decide(
        OFFICER,
        request.id,
        DecisionInput(
            Decision.postponed, reason="수사기관의 수사 진행 중", postponed_until_ms=until
        ),
    )
    notice = service.notify(OFFICER, request.id, channel=Channel.email)
    assert "연기 통지서" in notice.body_html and "수사기관의 수사 진행 중" in notice.body_html
    assert "이의제기 방법" in notice.body_html and "1833-6972" in notice.body_html
    assert service.deadline(service.get(OFFICER, request.id)) == (DeadlineStatus.open, until)
    clock.advance(timedelta(days=15))
    service.decide(
        OFFICER,
        request.id,
        DecisionInput(
            Decision.partial,
            ground=RefusalGround.others_privacy,
            reason="다른 환자가 식별되는 구간 제외",
            approved_start_ms=start,
            approved_end_ms=start + 1000,
            viewing_ms=clock.now_ms() + DAY,
            viewing_place="본원 회의실",
            officer="김보호",
            fee_krw=5000,
        ),
    )
    second = service.notify(OFFICER, request.id, channel=Channel.in_person)
    html = second.body_html
    assert "열람 일부 승인 통지서" in html and "본원 회의실" in html and "5,000원" in html
    assert "마스킹" in html and "제한 사유" in html
    assert len(service.notices(OFFICER, request.id)) == 2
    record = service.record_fee(OFFICER, request.id, 3000, "USB 실비")
    assert record.fee_krw == 3000
    fees = [
        e.data.get("fee_krw")
        for e in ctx.ledger.entries(
            refs=[str(request.id)], events=[EventType.request_state], limit=None
        )
    ]
    assert fees[-1] == 3000


def test_withdrawal_releases_the_hold_at_once_with_no_grace(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    request = service.receive(OFFICER, _new(RequestKind.viewing, "cam02", clock.now_ms() - HOUR))
    assert request.id is not None and request.hold_id is not None
    closed = service.close(OFFICER, request.id, note="요청인 철회", withdrawn=True)
    assert closed.state == RequestState.closed.value
    with ctx.db.session() as session:
        assert not get_hold(session, request.hold_id).active
    with pytest.raises(Conflict, match="the request is closed"):
        service.close(OFFICER, request.id)


def test_receipt_rules_and_encrypted_documents(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    now = clock.now_ms()
    with pytest.raises(ValidationFailed, match="official letter"):
        service.receive(OFFICER, _new(RequestKind.copy, "cam01", now - HOUR, RequesterKind.police))
    with pytest.raises(ValidationFailed, match="ends after the request was received"):
        service.receive(OFFICER, _new(RequestKind.copy, "cam01", now + HOUR))
    letter = Upload(DocumentKind.power_of_attorney, "위임장.pdf", "application/pdf",
                    b"%PDF-1.4 power of attorney for Hong")  # fmt: skip
    request = service.receive(
        OFFICER,
        _new(RequestKind.copy, "cam01", now - HOUR, RequesterKind.delegate),
        documents=[letter],
    )
    assert request.id is not None
    (stored,) = service.documents(OFFICER, request.id)
    assert stored.ciphertext is not None and b"Hong" not in stored.ciphertext
    assert stored.size_bytes == len(letter.data)
    assert service.read_document(OFFICER, request.id, stored.id or 0)[1] == letter.data
    with ctx.db.session() as session:
        raw = session.execute(text("SELECT ciphertext FROM request_document")).scalar_one()
        assert b"power of attorney" not in raw


def test_fail_closed_when_the_ledger_cannot_be_written(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    with ctx.db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE ledger_entry RENAME TO ledger_entry_gone"))
    with pytest.raises(LedgerUnavailable, match="ledger_entry"):
        service.receive(OFFICER, _new(RequestKind.viewing, "cam01", clock.now_ms() - HOUR))
    with ctx.db.session() as session:
        assert session.exec(select(FootageRequest)).all() == []
        assert session.exec(select(Hold)).all() == []


@pytest.mark.postgres
def test_the_walk_on_postgresql(make_settings: SettingsFactory, clock: FakeClock,
                                pg_url: str) -> None:  # fmt: skip
    settings = make_settings(database={"url": pg_url})
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    try:
        service = RequestService(ctx)
        request = _verified(service, _new(RequestKind.existence, "cam01", clock.now_ms() - HOUR))
        assert request.id is not None
        proposal = service.propose(OFFICER, request.id)
        assert proposal.ground is RefusalGround.no_footage
        service.decide(
            OFFICER,
            request.id,
            DecisionInput(Decision.refused, ground=proposal.ground, reason=proposal.reason),
        )
        service.notify(OFFICER, request.id, channel=Channel.mail)
        assert service.close(OFFICER, request.id).state == RequestState.closed.value
        assert service.list_requests(OFFICER, open_only=True) == []
        assert ctx.ledger.verify().ok
    finally:
        ctx.close()


def test_the_deadline_service_raises_the_overdue_alarm(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    request = service.receive(OFFICER, _new(RequestKind.existence, "cam01", clock.now_ms() - HOUR))
    clock.advance(timedelta(days=12))
    watcher = create_deadline_daemon(ctx)
    watcher.start()
    try:
        deadline = time.monotonic() + 30
        alarms: list[Alarm] = []
        while time.monotonic() < deadline and not alarms:
            with ctx.db.session() as session:
                alarms = list(
                    session.exec(select(Alarm).where(Alarm.kind == AlarmKind.request_overdue)).all()
                )
            time.sleep(0.05)
        assert [a.subject for a in alarms] == [f"request:{request.id}"]
        assert watcher.alive()
    finally:
        watcher.stop()
    assert not watcher.alive()


def test_documents_move_to_the_current_vault_key(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    letter = Upload(DocumentKind.official_letter, "공문.pdf", "application/pdf", b"%PDF-1.4 letter")
    request = service.receive(OFFICER,
        _new(RequestKind.copy, "cam01", clock.now_ms() - HOUR, RequesterKind.police,
             letter_reference="강남서-1"),
        documents=[letter],
    )  # fmt: skip
    assert request.id is not None
    old = ctx.vault.current_key_id()
    new = ctx.vault.create_key(make_current=True)
    assert service.reseal_documents() == 1
    (document,) = service.documents(OFFICER, request.id)
    assert document.vault_key_id == new != old
    assert service.read_document(OFFICER, request.id, document.id or 0)[1] == letter.data
    assert service.reseal_documents() == 0
