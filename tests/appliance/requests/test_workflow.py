"""The request rules as pure functions: state machine, 10-day clock, decision checks, proposals."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from appliance.clock import to_ms
from appliance.errors import Conflict, PermissionDenied, ValidationFailed
from appliance.requests import (
    Action,
    CameraFootage,
    DeadlineStatus,
    Decision,
    DecisionInput,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestState,
    check_decision,
    deadline_ms,
    deadline_status,
    next_state,
    propose_decision,
)

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
