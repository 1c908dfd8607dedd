"""The on-site viewing room's rules against a real database, vault, ledger and package: the
ledger's masking says what the copy shown had applied, a room without a masked copy refuses,
and a copy plays only after its viewing is in the ledger."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import Conflict, ValidationFailed
from appliance.export import MaskingOptions, MaskPlan, NormRect, Region
from appliance.ledger import EventType
from appliance.requests import (
    Channel,
    Decision,
    DecisionInput,
    NewRequest,
    RequesterKind,
    RequestKind,
    RequestService,
)
from appliance.requests.onsite import PLAY_WINDOW_MS, may_play
from appliance.settings import Settings
from tests.support.astronaut import astronaut_clip, decode_grey, store_segment
from tests.support.config import SettingsFactory
from tests.support.principals import OFFICER

HOUR = 3_600_000
NOTHING = MaskPlan(options=MaskingOptions(faces=False, people=False))


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(requests={"export_kdf_strength": "interactive"})


@pytest.fixture
def service(ctx: AppContext) -> RequestService:
    return RequestService(ctx)


def _notified(ctx: AppContext, service: RequestService, clock: FakeClock, kind: RequestKind) -> int:
    clock.advance(60)  # each request its own footage
    start = clock.now_ms() - HOUR
    store_segment(ctx, "cam01", start, astronaut_clip(1))
    new = NewRequest(kind, RequesterKind.subject, "홍길동", ("cam01",), start, start + 1000)
    request = service.receive(OFFICER, new)
    assert request.id is not None
    service.verify_identity(OFFICER, request.id, id_document="주민등록증", checked_by="officer1")
    decision = DecisionInput(Decision.accepted)
    if kind is RequestKind.viewing:
        decision = DecisionInput(
            Decision.accepted,
            viewing_ms=clock.now_ms() + HOUR,
            viewing_place="본원 3층",
            officer="김보호",
        )
    service.decide(OFFICER, request.id, decision)
    service.notify(OFFICER, request.id, channel=Channel.in_person)
    return request.id


def _onsite_entry(ctx: AppContext, request_id: int) -> dict[str, Any]:
    entries = ctx.ledger.entries(
        refs=[str(request_id)], events=[EventType.onsite_viewing], limit=None
    )
    assert len(entries) == 1
    return entries[0].data


def test_masking_is_what_the_copy_shown_had_applied(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    masked_rid = _notified(ctx, service, clock, RequestKind.viewing)
    officer_box = Region(NormRect(0.5, 0.5, 0.25, 0.25))
    made = service.create_export(OFFICER, masked_rid, plan=MaskPlan(officer_regions=(officer_box,)))
    assert made.masked_boxes > 0
    service.record_onsite_viewing(
        OFFICER, masked_rid, officer_present="김보호", export_id=made.package_id, place="3층"
    )
    data = _onsite_entry(ctx, masked_rid)
    assert data["masking"] is True and data["export_id"] == made.package_id
    assert data["place"] == "3층"

    # A copy made with nothing to mask (detectors off, no region) was not masked: false.
    plain_rid = _notified(ctx, service, clock, RequestKind.viewing)
    plain = service.create_export(OFFICER, plain_rid, plan=NOTHING)
    assert plain.masked_boxes == 0
    service.record_onsite_viewing(
        OFFICER, plain_rid, officer_present="김보호", export_id=plain.package_id
    )
    assert _onsite_entry(ctx, plain_rid)["masking"] is False


def test_without_a_masked_copy_the_room_refuses(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    rid = _notified(ctx, service, clock, RequestKind.viewing)
    with pytest.raises(ValidationFailed, match="masked only"):
        service.record_onsite_viewing(OFFICER, rid, officer_present="김보호")
    with pytest.raises(Conflict, match="no masked copy"):
        service.record_onsite_viewing(OFFICER, rid, officer_present="김보호", export_id="nope")
    assert service.room_copies(OFFICER, rid) == []
    # Shown as recorded, with the reason: recorded as unmasked, never as masked.
    service.record_onsite_viewing(
        OFFICER, rid, officer_present="김보호", note="요청인 본인 외 촬영된 사람 없음"
    )
    assert _onsite_entry(ctx, rid)["masking"] is False


def test_the_copy_plays_only_after_its_viewing_is_recorded(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    rid = _notified(ctx, service, clock, RequestKind.viewing)
    made = service.create_export(OFFICER, rid, plan=MaskPlan())
    with pytest.raises(Conflict, match="before the copy is played"):
        service.play_room_copy(OFFICER, rid, made.package_id, 0)
    service.record_onsite_viewing(OFFICER, rid, officer_present="김보호", export_id=made.package_id)
    shown = service.play_room_copy(OFFICER, rid, made.package_id, 0)
    assert shown.camera_id == "cam01" and len(decode_grey(shown.mp4)) == 25
    clock.advance(PLAY_WINDOW_MS / 1000)
    with pytest.raises(Conflict, match="before it is played"):
        service.play_room_copy(OFFICER, rid, made.package_id, 0)


def test_a_copy_request_has_no_viewing_room(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    rid = _notified(ctx, service, clock, RequestKind.copy)
    made = service.create_export(OFFICER, rid, plan=MaskPlan())
    with pytest.raises(Conflict, match="not viewing"):
        service.record_onsite_viewing(
            OFFICER, rid, officer_present="김보호", export_id=made.package_id
        )


def test_play_window() -> None:
    assert may_play(1000, 1000) and may_play(1000, 1000 + PLAY_WINDOW_MS - 1)
    assert not may_play(1000, 999) and not may_play(1000, 1000 + PLAY_WINDOW_MS)


def _copy_entries(ctx: AppContext, request_id: int, package_id: str) -> list[dict[str, Any]]:
    created = ctx.ledger.entries(refs=[package_id], events=[EventType.export_created], limit=None)
    provided = ctx.ledger.entries(refs=[str(request_id)], events=[EventType.provision], limit=None)
    assert len(created) == 1 and len(provided) == 1
    return [created[0].data, provided[0].data]


def test_a_copy_handed_over_says_masking_only_when_it_masked_a_box(
    ctx: AppContext, service: RequestService, clock: FakeClock
) -> None:
    masked_rid = _notified(ctx, service, clock, RequestKind.copy)
    officer_box = Region(NormRect(0.5, 0.5, 0.25, 0.25))
    made = service.create_export(OFFICER, masked_rid, plan=MaskPlan(officer_regions=(officer_box,)))
    assert made.masked_boxes > 0
    service.hand_over(OFFICER, masked_rid, made.package_id, recipient="홍길동", form="USB 메모리")
    assert [d["masking"] for d in _copy_entries(ctx, masked_rid, made.package_id)] == [True, True]

    # Nothing to mask (detectors off, no region): the copy is not masked, and the ledger says so.
    plain_rid = _notified(ctx, service, clock, RequestKind.copy)
    plain = service.create_export(OFFICER, plain_rid, plan=NOTHING)
    assert plain.masked_boxes == 0
    service.hand_over(OFFICER, plain_rid, plain.package_id, recipient="홍길동", form="USB 메모리")
    assert [d["masking"] for d in _copy_entries(ctx, plain_rid, plain.package_id)] == [False, False]
