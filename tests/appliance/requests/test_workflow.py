"""The request rules as pure functions: receipt checks, state machine, 10-day clock, decision
checks and how a decision applies, proposals; and who reads which requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from appliance.access import Permission, Principal, Via
from appliance.clock import to_ms
from appliance.errors import Conflict, PermissionDenied, ValidationFailed
from appliance.models import FootageRequest, Role
from appliance.requests import (
    Action,
    CameraFootage,
    DeadlineStatus,
    Decision,
    DecisionInput,
    DocumentKind,
    NewRequest,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestState,
    Upload,
    check_decision,
    deadline_ms,
    deadline_status,
    next_state,
    propose_decision,
)
from appliance.requests.service import need, reader_scope
from appliance.requests.workflow import (
    apply_decision,
    approved_scope,
    check_agency_submission,
    check_receipt,
    check_upload,
    counterpart,
    identity_text,
    refusal_text,
)
from tests.support.principals import AUDITOR, OFFICER

SEOUL = ZoneInfo("Asia/Seoul")
DAY = 86_400_000
S, A, D = RequestState, Action, Decision


def seoul(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return to_ms(datetime(year, month, day, hour, minute, tzinfo=SEOUL))


def test_the_happy_path_and_refusals_of_the_state_machine() -> None:
    state = S.received
    for action, decision in (
        (A.verify_identity, None),
        (A.decide, None),
        (A.notify, D.accepted),
        (A.fulfil, D.accepted),
        (A.close, D.accepted),
    ):
        state = next_state(state, action, decision)
    assert state is S.closed
    with pytest.raises(Conflict, match="closed"):
        next_state(S.closed, A.withdraw, None)
    with pytest.raises(Conflict, match="cannot decide a request in state received"):
        next_state(S.received, A.decide, None)  # identity first (R-REQ-2)
    with pytest.raises(Conflict, match="cannot fulfil a request in state notified"):
        next_state(S.notified, A.fulfil, D.refused)  # nothing to fulfil after a refusal
    with pytest.raises(Conflict, match="cannot fulfil a request in state decided"):
        next_state(S.decided, A.fulfil, D.accepted)  # notify first
    with pytest.raises(Conflict, match="cannot decide a request in state notified"):
        next_state(S.notified, A.decide, D.accepted)  # re-deciding only after a postponement
    assert next_state(S.notified, A.decide, D.postponed) is S.decided
    assert next_state(S.notified, A.close, D.refused) is S.closed
    assert next_state(S.identity_verified, A.withdraw, None) is S.closed
    assert next_state(S.notified, A.notify, D.accepted) is S.notified  # a second notice


def test_due_date_is_the_tenth_calendar_day_in_seoul() -> None:
    # Received 3 March 09:00 Seoul: due by the end of 13 March (the first day not counted).
    assert deadline_ms(seoul(2026, 3, 3, 9, 0), SEOUL) == seoul(2026, 3, 14, 0, 0)
    # 23:30 UTC on 2 March is already 3 March in Seoul.
    late_utc = to_ms(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))
    assert deadline_ms(late_utc, SEOUL) == seoul(2026, 3, 14, 0, 0)
    assert deadline_ms(late_utc, ZoneInfo("UTC")) == to_ms(datetime(2026, 3, 13, tzinfo=UTC))
    # Across the month end.
    assert deadline_ms(seoul(2026, 2, 25, 18, 0), SEOUL) == seoul(2026, 3, 8, 0, 0)


def test_deadline_status() -> None:
    due = seoul(2026, 3, 14, 0, 0)
    warn = 3 * DAY

    def status(state: RequestState, now: int, **kw: object) -> DeadlineStatus:
        return deadline_status(
            state,
            kw.get("decision"),  # type: ignore[arg-type]
            due,
            kw.get("notified"),  # type: ignore[arg-type]
            kw.get("until"),  # type: ignore[arg-type]
            now,
            warn,
        )[0]

    assert status(S.received, due - 5 * DAY) is DeadlineStatus.open
    assert status(S.identity_verified, due - 2 * DAY) is DeadlineStatus.due_soon
    assert status(S.decided, due) is DeadlineStatus.overdue  # decided but not notified
    assert status(S.notified, due + DAY, decision=D.accepted, notified=due - 1) is (
        DeadlineStatus.met
    )
    assert status(S.notified, due + DAY, decision=D.accepted, notified=due) is DeadlineStatus.late
    # A postponement notice starts a new clock.
    until = due + 20 * DAY
    kw = {"decision": D.postponed, "notified": due - DAY, "until": until}
    assert status(S.notified, due + DAY, **kw) is DeadlineStatus.open
    assert status(S.notified, until, **kw) is DeadlineStatus.overdue
    assert status(S.closed, until) is DeadlineStatus.closed


NOW = seoul(2026, 3, 3, 9, 0)
SCOPE = {
    "kind": RequestKind.viewing,
    "requester_kind": RequesterKind.subject,
    "camera_ids": ["cam01", "or01"],
    "start_ms": NOW - DAY,
    "end_ms": NOW - DAY + 3_600_000,
    "operating_room_cameras": ["or01"],
    "consent_ref": "",
    "now_ms": NOW,
}


def test_decision_checks() -> None:
    accepted = DecisionInput(
        D.accepted,
        viewing_ms=NOW + DAY,
        viewing_place="본원 회의실",
        officer="김보호",
        approved_camera_ids=("cam01",),
    )
    check_decision(accepted, **SCOPE)  # type: ignore[arg-type]
    for bad in (
        DecisionInput(D.accepted, approved_camera_ids=("cam01",)),  # no date/place (R-REQ-3)
        DecisionInput(D.refused, reason="x"),  # no ground (R-REQ-4)
        DecisionInput(D.refused, ground=RefusalGround.destroyed, reason="x"),  # no records cited
        DecisionInput(D.postponed),  # no reason
        DecisionInput(D.accepted, viewing_ms=NOW - 1, viewing_place="p", officer="o"),
    ):
        with pytest.raises(
            ValidationFailed, match=r"needs its|must be in the future|cites the destruction records"
        ):
            check_decision(bad, **SCOPE)  # type: ignore[arg-type]
    whole = DecisionInput(D.accepted, viewing_ms=NOW + DAY, viewing_place="p", officer="o")
    with pytest.raises(PermissionDenied, match="R-REQ-9"):
        check_decision(whole, **SCOPE)  # type: ignore[arg-type]
    check_decision(whole, **{**SCOPE, "requester_kind": RequesterKind.mediation})  # type: ignore[arg-type]
    check_decision(whole, **{**SCOPE, "consent_ref": "동의서 2026-3"})  # type: ignore[arg-type]
    wider = DecisionInput(D.accepted, approved_camera_ids=("cam09",), viewing_ms=NOW + DAY,
                          viewing_place="p", officer="o")  # fmt: skip
    with pytest.raises(ValidationFailed, match="must be among the requested ones"):
        check_decision(wider, **SCOPE)  # type: ignore[arg-type]


def test_proposals() -> None:
    kinds = (RequestKind.viewing, RequesterKind.subject)
    gone = CameraFootage("cam01", segments=0, destruction_refs=(4, 5))
    kept = CameraFootage("cam02", segments=3)
    refused = propose_decision(*kinds, [gone], "")
    assert (refused.decision, refused.ground, refused.destruction_refs) == (
        D.refused,
        RefusalGround.destroyed,
        (4, 5),
    )
    assert "#4" in refused.reason
    partial = propose_decision(*kinds, [gone, kept], "")
    assert partial.decision is D.partial and partial.approved_camera_ids == ("cam02",)
    never = propose_decision(*kinds, [CameraFootage("cam01", 0)], "")
    assert never.ground is RefusalGround.no_footage
    theatre = CameraFootage("or01", segments=2, operating_room=True)
    assert propose_decision(*kinds, [theatre], "").ground is RefusalGround.other_law
    assert propose_decision(RequestKind.viewing, RequesterKind.court, [theatre], "").decision is (
        D.accepted
    )
    minimum = CameraFootage("cam03", segments=2, under_minimum=True)
    deletion = propose_decision(RequestKind.deletion, RequesterKind.subject, [minimum], "")
    assert deletion.decision is D.refused and deletion.ground is RefusalGround.other_law
    assert propose_decision(*kinds, [kept], "").decision is D.accepted


# -- receipt checks, how a decision applies, who reads what -----------------------------------


def _received(**kw: Any) -> NewRequest:
    values: dict[str, Any] = {
        "kind": RequestKind.copy,
        "requester_kind": RequesterKind.subject,
        "requester_name": "홍길동",
        "camera_ids": ("cam01",),
        "start_ms": 1_000,
        "end_ms": 2_000,
    }
    values.update(kw)
    return NewRequest(**values)


def test_receipt_checks() -> None:
    check_receipt(_received(), received_ms=5_000, now_ms=5_000, by_agency=False)
    cases = [
        (_received(requester_name=" "), "requester's name"),
        (_received(camera_ids=()), "at least one camera"),
        (_received(end_ms=1_000), "ends before it starts"),
        (_received(end_ms=6_000), "ends after the request was received"),
        (_received(requester_kind=RequesterKind.police), "official letter"),
    ]
    for new, message in cases:
        with pytest.raises(ValidationFailed, match=message):
            check_receipt(new, received_ms=5_000, now_ms=5_000, by_agency=False)
    with pytest.raises(ValidationFailed, match="in the future"):
        check_receipt(_received(), received_ms=6_000, now_ms=5_000, by_agency=False)
    with pytest.raises(ValidationFailed, match="an agency account submits"):
        check_receipt(_received(), received_ms=5_000, now_ms=5_000, by_agency=True)


def test_agency_submission_and_upload_checks() -> None:
    check_agency_submission(RequesterKind.court, has_letter=True)
    with pytest.raises(ValidationFailed, match="requester_kind"):
        check_agency_submission(RequesterKind.subject, has_letter=True)
    with pytest.raises(ValidationFailed, match="official letter"):
        check_agency_submission(RequesterKind.police, has_letter=False)
    check_upload(Upload(DocumentKind.id_copy, "id.pdf", "application/pdf", b"%PDF-1.4 x"), 10)
    for upload, message in [
        (Upload(DocumentKind.id_copy, "id.pdf", "", b""), "empty"),
        (Upload(DocumentKind.id_copy, "id.pdf", "", b"x" * 11), "limited to 10 bytes"),
        (Upload(DocumentKind.id_copy, " ", "", b"x"), "file name"),
    ]:
        with pytest.raises(ValidationFailed, match=message):
            check_upload(upload, 10)


def _row(**kw: Any) -> FootageRequest:
    values: dict[str, Any] = {
        "kind": "copy",
        "state": "identity_verified",
        "channel": "in_person",
        "requester_kind": "subject",
        "requester_name": "홍길동",
        "camera_ids": ["cam01", "cam02"],
        "start_ms": 1_000,
        "end_ms": 9_000,
        "received_ms": 10_000,
        "received_by": "officer1",
        "due_ms": 20_000,
        "created_ms": 10_000,
        "updated_ms": 10_000,
    }
    values.update(kw)
    return FootageRequest(**values)


def test_apply_decision_releases_the_whole_request_unless_narrowed() -> None:
    request = _row()
    apply_decision(
        request, DecisionInput(Decision.accepted), now_ms=11_000, actor="o", default_officer="김"
    )
    assert approved_scope(request) == (["cam01", "cam02"], 1_000, 9_000)
    assert (request.officer, request.decided_ms, request.decided_by) == ("김", 11_000, "o")
    narrowed = DecisionInput(
        Decision.partial,
        reason="타인",
        ground=RefusalGround.others_privacy,
        approved_camera_ids=("cam02",),
        approved_start_ms=2_000,
    )
    apply_decision(request, narrowed, now_ms=12_000, actor="o", default_officer="김")
    assert approved_scope(request) == (["cam02"], 2_000, 9_000)
    assert refusal_text(request) == f"{RefusalGround.others_privacy.label}: 타인"


def test_a_refusal_releases_nothing_and_a_postponement_keeps_its_end() -> None:
    request = _row()
    refusal = DecisionInput(
        Decision.refused, reason="없음", ground=RefusalGround.no_footage, postponed_until_ms=5
    )
    apply_decision(request, refusal, now_ms=11_000, actor="o", default_officer="김")
    assert request.approved_camera_ids == [] and request.approved_start_ms is None
    assert request.postponed_until_ms is None and request.viewing_ms is None
    postponed = DecisionInput(Decision.postponed, reason="수사 중", postponed_until_ms=50_000)
    apply_decision(request, postponed, now_ms=11_000, actor="o", default_officer="김")
    assert request.postponed_until_ms == 50_000 and refusal_text(request) == ""


def test_counterpart_and_identity_text() -> None:
    assert counterpart(_row()) == "홍길동"
    assert counterpart(_row(requester_org="강남서")) == "홍길동 (강남서)"
    assert identity_text(_row()) == ""
    assert identity_text(_row(id_document="여권", id_checked_by="o")) == "여권 (확인자 o)"


def test_who_reads_which_requests() -> None:
    agency = Principal(user_id=7, username="police", role=Role.agency, via=Via.token)
    viewer = Principal(user_id=8, username="v", role=Role.viewer, via=Via.session)
    assert reader_scope(OFFICER) is None and reader_scope(AUDITOR) is None
    assert reader_scope(agency) == 7
    with pytest.raises(PermissionDenied):
        reader_scope(viewer)
    need(OFFICER, Permission.manage_requests)
    for principal in (AUDITOR, agency, viewer):
        with pytest.raises(PermissionDenied):
            need(principal, Permission.manage_requests)
