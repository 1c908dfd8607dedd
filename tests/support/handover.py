"""A police copy request over several cameras, decided, notified, exported (masked, signed,
encrypted, with the astronaut's face in every video) and handed over: what the hand-over record
tests (domain, API, page, browser) print and check."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.context import AppContext
from appliance.export import MaskPlan, NormRect, Region
from appliance.export.service import ExportResult
from appliance.requests import (
    Channel,
    Decision,
    DecisionInput,
    NewRequest,
    RequesterKind,
    RequestKind,
    RequestService,
)
from tests.support.astronaut import astronaut_clip, store_segment
from tests.support.principals import OFFICER

__all__ = ["CAMERAS", "LEGAL_BASIS", "LETTER", "HandedCopy", "handed_copy"]

CAMERAS = ("cam01", "cam02", "cam03")
LETTER = "수사과-2026-1234"
LEGAL_BASIS = "형사소송법 제199조 제2항"
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class HandedCopy:
    request_id: int
    export: ExportResult
    start_ms: int
    end_ms: int


def handed_copy(
    ctx: AppContext,
    *,
    hand_over: bool = True,
    cameras: tuple[str, ...] = CAMERAS,
    hours_ago: int = 3,
) -> HandedCopy:
    """One second of each camera, ``hours_ago`` hours ago; one officer rectangle on every
    video."""
    service = RequestService(ctx)
    start = ctx.clock.now_ms() - hours_ago * HOUR_MS
    clip = astronaut_clip(1)
    for camera in cameras:
        store_segment(ctx, camera, start, clip)
    new = NewRequest(
        RequestKind.copy,
        RequesterKind.police,
        "김수사",
        cameras,
        start,
        start + 1000,
        requester_org="서울중앙경찰서",
        legal_basis=LEGAL_BASIS,
        letter_reference=LETTER,
        purpose="폭행 사건 수사",
        channel=Channel.mail,
    )
    request = service.receive(OFFICER, new)
    assert request.id is not None
    service.verify_identity(OFFICER, request.id, id_document="공문", checked_by="officer1")
    service.decide(OFFICER, request.id, DecisionInput(Decision.accepted))
    service.notify(OFFICER, request.id, channel=Channel.mail)
    plan = MaskPlan(officer_regions=(Region(NormRect(0.0, 0.0, 0.2, 0.2)),))
    made = service.create_export(OFFICER, request.id, plan=plan, passphrase="transport pass 1")
    if hand_over:
        service.hand_over(
            OFFICER, request.id, made.package_id, recipient="김수사 경위", form="USB 메모리"
        )
    return HandedCopy(request.id, made, start, start + 1000)
