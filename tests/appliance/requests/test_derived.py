"""Retention of derived copies (issue 12): export packages and request documents are destroyed
on schedule by the deadline daemon, recorded in the destruction ledger and the ledger, and
covered by ``fsck``."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlmodel import select

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import Conflict, NotFound
from appliance.export.options import MaskPlan
from appliance.export.package import read_header
from appliance.ledger import EventType
from appliance.models import DestructionRecord, LedgerEntry, RequestDocument, RequestExport
from appliance.requests import (
    Channel,
    Decision,
    DecisionInput,
    DocumentKind,
    NewRequest,
    RequesterKind,
    RequestKind,
    RequestService,
    Upload,
)
from appliance.requests.daemon import create as create_deadline_daemon
from appliance.requests.derived import document_expiry_ms, export_expiry_ms
from appliance.retention import ProblemKind, fsck, list_destruction, to_csv
from appliance.settings import Settings
from tests.support.astronaut import astronaut_clip, store_segment
from tests.support.config import SettingsFactory
from tests.support.principals import OFFICER

HOUR = 3_600_000
DAY = 86_400_000
PASS = "transport passphrase 1"
ID_COPY = b"%PDF-1.4 ID copy of Hong Gildong 800101-1234567"


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(
        requests={"hold_grace_days": 0, "export_keep_days": 30, "document_keep_days": 90}
    )


@pytest.fixture
def service(ctx: AppContext) -> RequestService:
    return RequestService(ctx)


def _copy_request(service: RequestService, start: int, *, document: bytes) -> int:
    new = NewRequest(RequestKind.copy, RequesterKind.subject, "홍길동", ("cam01",), start,
                     start + 1500)  # fmt: skip
    upload = Upload(DocumentKind.id_copy, "id.pdf", "application/pdf", document)
    request = service.receive(OFFICER, new, documents=[upload])
    assert request.id is not None
    service.verify_identity(OFFICER, request.id, id_document="주민등록증", checked_by="officer1")
    return request.id


def _exported(ctx: AppContext, service: RequestService, clock: FakeClock) -> tuple[int, str]:
    """A copy request, decided, notified, exported: (request id, export id)."""
    start = clock.now_ms() - HOUR
    store_segment(ctx, "cam01", start, astronaut_clip(2))
    request_id = _copy_request(service, start, document=ID_COPY)
    service.decide(OFFICER, request_id, DecisionInput(Decision.accepted))
    service.notify(OFFICER, request_id, channel=Channel.in_person)
    result = service.create_export(OFFICER, request_id, plan=MaskPlan(), passphrase=PASS)
    return request_id, result.package_id


def _files(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()]


def _events(ctx: AppContext, event: EventType) -> list[LedgerEntry]:
    with ctx.db.session() as session:
        return list(session.exec(select(LedgerEntry).where(LedgerEntry.event == event)).all())


def test_expiry_rules() -> None:
    # An export goes keep_days after hand-over or closure, whichever comes first.
    assert export_expiry_ms(handed_over_ms=None, closed_ms=None, keep_days=30) is None
    assert export_expiry_ms(handed_over_ms=5 * DAY, closed_ms=None, keep_days=30) == 35 * DAY
    assert export_expiry_ms(handed_over_ms=None, closed_ms=2 * DAY, keep_days=30) == 32 * DAY
    assert export_expiry_ms(handed_over_ms=5 * DAY, closed_ms=2 * DAY, keep_days=30) == 32 * DAY
    # Documents go keep_days after closure, never while the request is open.
    assert document_expiry_ms(closed_ms=None, keep_days=0) is None
    assert document_expiry_ms(closed_ms=3 * DAY, keep_days=90) == 93 * DAY
    assert document_expiry_ms(closed_ms=3 * DAY, keep_days=0) == 3 * DAY


@pytest.mark.parametrize(
    "section",
    [
        {"export_keep_days": 0},
        {"export_keep_days": 366},
        {"document_keep_days": -1},
        {"document_keep_days": 1096},
    ],
)
def test_keep_days_are_bounded(make_settings: SettingsFactory, section: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make_settings(requests=section)


def test_exports_and_documents_disappear_on_schedule(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    exports_dir = ctx.settings.exports_dir
    request_id, export_id = _exported(ctx, service, clock)
    package = (exports_dir / f"{export_id}.cctvexp").read_bytes()
    # The vault's copy of the package key is a column, not a slot of the handed-over file.
    assert read_header(package).slot("vault") is None
    (export,) = service.exports(OFFICER, request_id)
    assert export.sealed_key is not None and export.vault_key_id
    service.hand_over(OFFICER, request_id, export_id, recipient="홍길동", form="USB 메모리")
    handed_ms = clock.now_ms()
    # Another request stays open: its document is never destroyed.
    other_letter = b"%PDF-1.4 letter of a request still open"
    open_id = _copy_request(service, clock.now_ms() - HOUR, document=other_letter)

    clock.advance(timedelta(days=1))
    service.close(OFFICER, request_id)
    closed_ms = clock.now_ms()

    clock.advance(timedelta(days=29) - timedelta(minutes=1))  # hand-over + 30 d - 1 min
    assert service.destroy_expired_copies().exports == []
    assert (exports_dir / f"{export_id}.cctvexp").exists()

    clock.advance(timedelta(minutes=2))
    report = service.destroy_expired_copies()
    assert report.exports == [export_id] and report.documents == []
    assert not (exports_dir / f"{export_id}.cctvexp").exists()
    assert all(package[-4096:] not in data for data in _files(exports_dir))
    with ctx.db.session() as session:
        row = session.get(RequestExport, export_id)
        assert row is not None and row.sealed_key is None
        assert row.destroyed_ms == clock.now_ms() and row.destroyed_by == "system"
        raw = session.execute(
            text("SELECT sealed_key FROM request_export WHERE id = :i"), {"i": export_id}
        ).scalar_one()
        assert raw is None
    with pytest.raises(Conflict, match="destroyed"):
        service.hand_over(OFFICER, request_id, export_id, recipient="홍길동", form="USB 메모리")
    (entry,) = _events(ctx, EventType.export_destroyed)
    assert entry.ref == export_id and entry.actor == "system"
    assert json.loads(entry.data)["request_id"] == request_id
    assert json.loads(entry.data)["handed_over_ms"] == handed_ms

    # Documents: closure + 90 days, through the daemon of ``appliance run``.
    clock.advance(timedelta(milliseconds=closed_ms + 90 * DAY - clock.now_ms() - 60_000))
    assert service.destroy_expired_copies().documents == []
    clock.advance(timedelta(minutes=2))
    daemon = create_deadline_daemon(ctx)
    daemon.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _events(ctx, EventType.document_destroyed):
            time.sleep(0.05)
    finally:
        daemon.stop()
    (destroyed,) = _events(ctx, EventType.document_destroyed)
    assert destroyed.ref == str(request_id) and destroyed.actor == "system"
    with ctx.db.session() as session:
        documents = {d.request_id: d for d in session.exec(select(RequestDocument)).all()}
        gone = documents[request_id]
        assert gone.ciphertext is None and gone.sealed_key is None
        assert gone.destroyed_ms is not None and gone.destroyed_by == "system"
        assert gone.kind == DocumentKind.id_copy.value and gone.size_bytes == len(ID_COPY)
        assert documents[open_id].destroyed_ms is None
        blobs = session.execute(text("SELECT ciphertext FROM request_document")).scalars().all()
        assert [b for b in blobs if b is not None] == [documents[open_id].ciphertext]
    with pytest.raises(NotFound, match="destroyed"):
        service.read_document(OFFICER, request_id, gone.id or 0)
    assert service.read_document(OFFICER, open_id, documents[open_id].id or 0)[1] == other_letter
    # A destroyed document is never re-sealed to a new vault key; a live one is.
    ctx.vault.create_key(make_current=True)
    assert service.reseal_documents() == 1

    with ctx.db.session() as session:
        records = list_destruction(session)
    reasons = {r.reason: r for r in records}
    assert {"export retention", "document retention"} <= set(reasons)
    export_record = reasons["export retention"]
    assert export_record.executed_by == "system"
    assert export_record.segments_digest == export.blake2b_hex
    assert export_record.size_bytes == export.size_bytes
    assert json.loads(entry.data)["destruction_id"] == export_record.id
    assert json.loads(destroyed.data)["destruction_id"] == reasons["document retention"].id
    csv = to_csv(records, ctx.settings.zone)
    assert "반출 사본" in csv and "신청 서류" in csv and export_id in csv
    assert "사본 보관기간 경과" in csv and "서류 보관기간 경과" in csv
    assert ctx.ledger.verify().ok


def test_an_export_goes_at_closure_plus_keep_days_if_never_handed_over(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    request_id, export_id = _exported(ctx, service, clock)
    service.close(OFFICER, request_id, withdrawn=True)
    clock.advance(timedelta(days=30, minutes=1))
    assert service.destroy_expired_copies().exports == [export_id]
    assert list(ctx.settings.exports_dir.iterdir()) == []


def test_fsck_covers_export_packages(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    exports_dir = ctx.settings.exports_dir
    request_id, kept_id = _exported(ctx, service, clock)
    third = service.create_export(OFFICER, request_id, plan=MaskPlan(), passphrase=PASS)
    clock.advance(timedelta(minutes=1))
    _open_id, second_id = _exported(ctx, service, clock)  # its request stays open
    second = ctx.settings.exports_dir / f"{second_id}.cctvexp"
    assert fsck(ctx).clean
    # A package nobody recorded, a recorded one whose file is gone, and a destroyed one whose
    # file survived (a crash between the commit and the unlink).
    orphan = exports_dir / "0123456789abcdef0123456789abcdef.cctvexp"
    orphan.write_bytes(b"CCTVEXP1 planted")
    second.unlink()
    survivor = third.path.read_bytes()
    service.close(OFFICER, request_id, withdrawn=True)
    clock.advance(timedelta(days=31))
    destroyed = service.destroy_expired_copies().exports
    assert sorted(destroyed) == sorted([kept_id, third.package_id])
    third.path.write_bytes(survivor)

    report = fsck(ctx)
    found = {(p.kind, p.path) for p in report.problems}
    assert (ProblemKind.orphan_export, f"exports/{orphan.name}") in found
    assert (ProblemKind.export_missing, f"exports/{second.name}") in found
    assert (ProblemKind.export_not_destroyed, f"exports/{third.path.name}") in found
    assert orphan.exists() and third.path.exists()

    repaired = fsck(ctx, repair=True, actor="admin")
    assert repaired.repaired >= 3
    assert list(exports_dir.iterdir()) == []
    with ctx.db.session() as session:
        row = session.get(RequestExport, second_id)
        assert row is not None and row.sealed_key is None and row.destroyed_ms is not None
        record = session.exec(
            select(DestructionRecord).where(DestructionRecord.segments_digest == row.blake2b_hex)
        ).one()
        assert record.reason == "file missing (fsck)" and record.executed_by == "admin"
    assert fsck(ctx).clean
