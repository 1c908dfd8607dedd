"""The request workflow as pure functions: the receipt checks, the state machine, the 10-day
clock, the checks a decision must pass, how a decision applies to a request, and the decision
the footage suggests. No I/O: the stage modules (``receipt``, ``decision`` ...) do that."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from appliance.clock import from_ms, to_ms
from appliance.errors import Conflict, PermissionDenied, ValidationFailed
from appliance.models import FootageRequest
from appliance.requests.kinds import (
    AGENCY_KINDS,
    OPERATING_ROOM_KINDS,
    Decision,
    NewRequest,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestState,
    Upload,
)

__all__ = [
    "DAY_MS",
    "Action",
    "CameraFootage",
    "DeadlineStatus",
    "DecisionInput",
    "Proposal",
    "apply_decision",
    "approved_scope",
    "check_agency_submission",
    "check_decision",
    "check_receipt",
    "check_upload",
    "counterpart",
    "current_decision",
    "deadline_ms",
    "deadline_status",
    "document_type",
    "identity_text",
    "next_state",
    "propose_decision",
    "refusal_text",
]

DAY_MS = 86_400_000


def check_receipt(new: NewRequest, *, received_ms: int, now_ms: int, by_agency: bool) -> None:
    """Refuse a request that cannot be recorded as received (``by_agency``: submitted through
    an agency account)."""
    if not new.requester_name.strip():
        raise ValidationFailed("a request needs the requester's name")
    if not new.camera_ids:
        raise ValidationFailed("a request names at least one camera")
    if new.end_ms <= new.start_ms:
        raise ValidationFailed("the footage range ends before it starts")
    if received_ms > now_ms:
        raise ValidationFailed("a request cannot be received in the future")
    if new.end_ms > received_ms:
        raise ValidationFailed("the footage range ends after the request was received")
    if new.requester_kind in AGENCY_KINDS and not new.letter_reference.strip():
        raise ValidationFailed(
            "police, agencies and courts ask by official letter: give its reference (R-REQ-1)"
        )
    if by_agency and new.requester_kind not in AGENCY_KINDS:
        raise ValidationFailed("an agency account submits as police, agency, court or mediation")


def check_agency_submission(requester_kind: RequesterKind, has_letter: bool) -> None:
    """What the agency API asks of a submission before it is parsed further: an agency's
    requester kind and its official letter (R-REQ-1)."""
    if requester_kind not in AGENCY_KINDS:
        raise ValidationFailed("requester_kind must be police, agency, court or mediation")
    if not has_letter:
        raise ValidationFailed("attach the official letter (R-REQ-1)")


# The document types accepted, by their first bytes (ID copies and letters are scans or PDFs).
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def document_type(data: bytes) -> str | None:
    """The media type ``data`` is by its first bytes (PDF, JPEG or PNG), else None."""
    return next((media for magic, media in _SIGNATURES if data.startswith(magic)), None)


def check_upload(upload: Upload, max_bytes: int) -> None:
    """Refuse an empty or oversized document, one without a usable file name, or one whose
    content is not a PDF, JPEG or PNG (whatever its declared type or file name say)."""
    if not upload.data:
        raise ValidationFailed("the uploaded document is empty")
    if len(upload.data) > max_bytes:
        raise ValidationFailed(f"documents are limited to {max_bytes} bytes")
    if not upload.filename.strip() or len(upload.filename) > 200:
        raise ValidationFailed("a document needs a file name of 1-200 characters")
    if document_type(upload.data) is None:
        raise ValidationFailed(
            "documents must be PDF, JPEG or PNG files (judged by their content, not their "
            "name or declared type)"
        )


def counterpart(request: FootageRequest) -> str:
    """How notices and the ledger name the requester."""
    if request.requester_org:
        return f"{request.requester_name} ({request.requester_org})"
    return request.requester_name


def identity_text(request: FootageRequest) -> str:
    """The identity check as the ledger records it ("" before one)."""
    if not request.id_document:
        return ""
    return f"{request.id_document} (확인자 {request.id_checked_by})"


def current_decision(request: FootageRequest) -> Decision | None:
    return Decision(request.decision) if request.decision else None


def approved_scope(request: FootageRequest) -> tuple[list[str], int, int]:
    """(cameras, start, end) an approving decision released; the whole request by default."""
    return (
        list(request.approved_camera_ids or request.camera_ids),
        request.approved_start_ms if request.approved_start_ms is not None else request.start_ms,
        request.approved_end_ms if request.approved_end_ms is not None else request.end_ms,
    )


class Action(StrEnum):
    verify_identity = "verify_identity"
    decide = "decide"
    notify = "notify"
    fulfil = "fulfil"
    close = "close"
    withdraw = "withdraw"


def next_state(state: RequestState, action: Action, decision: Decision | None) -> RequestState:
    """The state after ``action``; Conflict if the action is not allowed now.

    ``decision`` is the request's current decision (None before one is made).
    """
    if state is RequestState.closed:
        raise Conflict("the request is closed")
    if action is Action.withdraw:
        return RequestState.closed
    if action is Action.verify_identity and state is RequestState.received:
        return RequestState.identity_verified
    if action is Action.decide and (
        state in (RequestState.identity_verified, RequestState.decided)
        or (state is RequestState.notified and decision is Decision.postponed)
    ):
        return RequestState.decided
    if action is Action.notify and state in (RequestState.decided, RequestState.notified):
        return RequestState.notified
    if (
        action is Action.fulfil
        and state is RequestState.notified
        and decision in (Decision.accepted, Decision.partial)
    ):
        return RequestState.fulfilled
    if action is Action.close and (
        state is RequestState.fulfilled
        or (state is RequestState.notified and decision is Decision.refused)
    ):
        return RequestState.closed
    hint = {
        Action.verify_identity: "identity is checked once, right after receipt",
        Action.decide: "decide after the identity check (or again after a postponement)",
        Action.notify: "a notice follows a decision",
        Action.fulfil: "only an accepted or partly accepted request that was notified",
        Action.close: "close once fulfilled, or once a refusal was notified",
    }.get(action, "")
    raise Conflict(f"cannot {action.value} a request in state {state.value}: {hint}")


def deadline_ms(received_ms: int, zone: ZoneInfo, days: int = 10) -> int:
    """The end of the ``days``-th calendar day after receipt, in the site's zone (exclusive).

    The day of receipt is not counted (Civil Act art. 157): received on 3 March, the notice is
    due by the end of 13 March, i.e. before 14 March 00:00 local time.
    """
    received_day = from_ms(received_ms).astimezone(zone).date()
    end_day = received_day + timedelta(days=days + 1)
    return to_ms(datetime.combine(end_day, time(0, 0), tzinfo=zone))


class DeadlineStatus(StrEnum):
    open = "open"  # the clock runs, more than the warning time left
    due_soon = "due_soon"
    overdue = "overdue"  # the notice is late (an alarm is raised)
    met = "met"  # the notice went out in time
    late = "late"  # the notice went out, after the deadline
    closed = "closed"


def deadline_status(
    state: RequestState,
    decision: Decision | None,
    due: int,
    notified_ms: int | None,
    postponed_until_ms: int | None,
    now_ms: int,
    warn_ms: int,
) -> tuple[DeadlineStatus, int | None]:
    """(status, the deadline that applies now) of one request.

    The 10-day clock stops at the first notice. A postponement notice starts a new clock that
    ends at ``postponed_until_ms``, by which the final decision must be notified.
    """
    if state is RequestState.closed:
        return DeadlineStatus.closed, None
    if state in (RequestState.received, RequestState.identity_verified) or (
        state is RequestState.decided and notified_ms is None
    ):
        deadline = due
    elif decision is Decision.postponed and postponed_until_ms is not None:
        deadline = postponed_until_ms
    else:
        met = notified_ms is not None and notified_ms < due
        return (DeadlineStatus.met if met else DeadlineStatus.late), None
    if now_ms >= deadline:
        return DeadlineStatus.overdue, deadline
    if deadline - now_ms <= warn_ms:
        return DeadlineStatus.due_soon, deadline
    return DeadlineStatus.open, deadline


@dataclass(frozen=True)
class DecisionInput:
    """A decision as the officer enters it."""

    decision: Decision
    reason: str = ""
    ground: RefusalGround | None = None
    viewing_ms: int | None = None  # agreed date and time of on-site viewing (R-REQ-3)
    viewing_place: str = ""
    officer: str = ""  # the officer who will be present (R-REQ-6)
    postponed_until_ms: int | None = None
    approved_camera_ids: tuple[str, ...] = ()  # partial: the part released (else all)
    approved_start_ms: int | None = None
    approved_end_ms: int | None = None
    destruction_refs: tuple[int, ...] = ()  # the destruction records a refusal cites
    fee_krw: int = 0


def check_decision(
    decision: DecisionInput,
    *,
    kind: RequestKind,
    requester_kind: RequesterKind,
    camera_ids: Sequence[str],
    start_ms: int,
    end_ms: int,
    operating_room_cameras: Sequence[str],
    consent_ref: str,
    now_ms: int,
) -> None:
    """Refuse a decision that breaks a rule; the message names the rule."""
    d = decision.decision
    if decision.fee_krw < 0:
        raise ValidationFailed("a fee cannot be negative (R-REQ-8)")
    if d in (Decision.refused, Decision.partial):
        if decision.ground is None:
            raise ValidationFailed(f"a {d.value} decision needs its ground (R-REQ-4)")
        if not decision.reason.strip():
            raise ValidationFailed("give the reason in words; it is printed on the notice")
        if decision.ground is RefusalGround.destroyed and not decision.destruction_refs:
            raise ValidationFailed("a refusal for destroyed footage cites the destruction records")
    if d is Decision.postponed:
        if not decision.reason.strip():
            raise ValidationFailed("a postponement needs its reason (R-REQ-4)")
        if decision.postponed_until_ms is not None and decision.postponed_until_ms <= now_ms:
            raise ValidationFailed("a postponement ends in the future")
    if d not in (Decision.accepted, Decision.partial):
        return
    released = decision.approved_camera_ids or tuple(camera_ids)
    if not set(released) <= set(camera_ids):
        raise ValidationFailed("the approved cameras must be among the requested ones")
    lo = decision.approved_start_ms if decision.approved_start_ms is not None else start_ms
    hi = decision.approved_end_ms if decision.approved_end_ms is not None else end_ms
    if not start_ms <= lo < hi <= end_ms:
        raise ValidationFailed("the approved range must lie within the requested range")
    if kind is RequestKind.viewing:
        if decision.viewing_ms is None or not decision.viewing_place.strip():
            raise ValidationFailed("an approved viewing needs its date, time and place (R-REQ-3)")
        if not decision.officer.strip():
            raise ValidationFailed("name the officer present at the viewing (R-REQ-6)")
        if decision.viewing_ms <= now_ms:
            raise ValidationFailed("the viewing date must be in the future")
    restricted = sorted(set(released) & set(operating_room_cameras))
    if (
        restricted
        and requester_kind not in OPERATING_ROOM_KINDS
        and kind is not RequestKind.existence
        and not consent_ref.strip()
    ):
        raise PermissionDenied(
            f"operating-room footage ({', '.join(restricted)}) goes only to investigators, "
            "courts or the medical dispute mediation agency, or with every data subject's "
            "consent (Medical Service Act 38-2, R-REQ-9)"
        )


def apply_decision(
    request: FootageRequest,
    decision: DecisionInput,
    *,
    now_ms: int,
    actor: str,
    default_officer: str,
) -> None:
    """Write a checked decision onto the request: what is approved (the whole request unless
    narrowed), viewing details only when approving, the postponement only when postponing."""
    d = decision.decision
    approving = d in (Decision.accepted, Decision.partial)
    request.decision = d.value
    request.decision_reason = decision.reason.strip()
    request.refusal_ground = decision.ground.value if decision.ground else None
    request.destruction_refs = list(decision.destruction_refs)
    cameras, lo, hi = (
        list(decision.approved_camera_ids or request.camera_ids),
        request.start_ms if decision.approved_start_ms is None else decision.approved_start_ms,
        request.end_ms if decision.approved_end_ms is None else decision.approved_end_ms,
    )
    request.approved_camera_ids = cameras if approving else []
    request.approved_start_ms = lo if approving else None
    request.approved_end_ms = hi if approving else None
    request.viewing_ms = decision.viewing_ms if approving else None
    request.viewing_place = decision.viewing_place if approving else ""
    request.officer = decision.officer or default_officer
    request.postponed_until_ms = decision.postponed_until_ms if d is Decision.postponed else None
    if decision.fee_krw:
        request.fee_krw = decision.fee_krw
    request.decided_ms = now_ms
    request.decided_by = actor


def refusal_text(request: FootageRequest) -> str:
    """The ground and reason of a refusal as the ledger records it ("" without a ground)."""
    if request.refusal_ground is None:
        return ""
    return f"{RefusalGround(request.refusal_ground).label}: {request.decision_reason}"


@dataclass(frozen=True)
class CameraFootage:
    """What is stored of one requested camera in the requested range."""

    camera_id: str
    segments: int
    destruction_refs: tuple[int, ...] = ()
    operating_room: bool = False
    under_minimum: bool = False  # deletion would break the group's legal minimum


@dataclass(frozen=True)
class Proposal:
    """The decision the footage and the rules suggest; the officer decides."""

    decision: Decision
    ground: RefusalGround | None
    reason: str
    approved_camera_ids: tuple[str, ...]
    destruction_refs: tuple[int, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def propose_decision(
    kind: RequestKind,
    requester_kind: RequesterKind,
    footage: Sequence[CameraFootage],
    consent_ref: str,
) -> Proposal:
    """Suggest a decision: refuse on "destroyed" citing the records, keep operating-room
    footage from those R-REQ-9 excludes, refuse deletions the legal minimum forbids."""
    refused: dict[str, tuple[RefusalGround, str]] = {}
    refs: list[int] = []
    for cam in footage:
        if cam.segments == 0:
            if cam.destruction_refs:
                refs += cam.destruction_refs
                records = ", ".join(f"#{r}" for r in cam.destruction_refs)
                refused[cam.camera_id] = (
                    RefusalGround.destroyed,
                    f"{cam.camera_id}: 보관기간 경과로 파기됨 (파기 기록 {records})",
                )
            else:
                refused[cam.camera_id] = (
                    RefusalGround.no_footage,
                    f"{cam.camera_id}: 해당 기간의 녹화 영상 없음",
                )
        elif (
            cam.operating_room
            and requester_kind not in OPERATING_ROOM_KINDS
            and kind is not RequestKind.existence
            and not consent_ref.strip()
        ):
            refused[cam.camera_id] = (
                RefusalGround.other_law,
                f"{cam.camera_id}: 수술실 영상은 수사·재판 기관, 한국의료분쟁조정중재원 또는 "
                "정보주체 전원의 동의가 있는 경우에만 제공 가능 (의료법 제38조의2)",
            )
        elif kind is RequestKind.deletion and cam.under_minimum:
            refused[cam.camera_id] = (
                RefusalGround.other_law,
                f"{cam.camera_id}: 법령상 최소 보관기간 내의 영상 (삭제 불가)",
            )
    released = tuple(c.camera_id for c in footage if c.camera_id not in refused)
    notes = tuple(text for _ground, text in refused.values())
    if not refused:
        return Proposal(Decision.accepted, None, "", released)
    grounds = [ground for ground, _text in refused.values()]
    # The ground printed first is the most common one; every camera's reason is in the notes.
    ground = max(set(grounds), key=grounds.count)
    decision = Decision.partial if released else Decision.refused
    return Proposal(decision, ground, "; ".join(notes), released, tuple(sorted(set(refs))), notes)
