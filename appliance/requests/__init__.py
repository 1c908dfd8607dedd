"""Requests for existence confirmation, viewing, copy and deletion (R-REQ-1..9).

``workflow`` holds the rules as pure functions (receipt checks, state machine, 10-day clock,
decision checks and how a decision applies, proposals); one module per stage runs its steps as
transactions with their hold, notice and ledger entries (``receipt``, ``decision``,
``notice_issue``, ``copies``, ``fulfilment``, ``deadlines``, sharing ``_stage``);
``service.RequestService`` is the front that checks the principal's permissions; ``notices``
renders the Korean notices. See design/requests.md.
"""

from __future__ import annotations

from appliance.requests.deadlines import DeadlineEntry, DeadlineReport
from appliance.requests.desk import (
    AgencyEvent,
    DeskFilter,
    DeskRow,
    DeskSummary,
    HistoryItem,
    days_left,
    points_to_police,
)
from appliance.requests.kinds import (
    AGENCY_KINDS,
    OPERATING_ROOM_KINDS,
    Channel,
    Decision,
    DocumentKind,
    Fulfilment,
    NewRequest,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestState,
    Upload,
)
from appliance.requests.service import RequestService
from appliance.requests.workflow import (
    Action,
    CameraFootage,
    DeadlineStatus,
    DecisionInput,
    Proposal,
    approved_scope,
    check_agency_submission,
    check_decision,
    deadline_ms,
    deadline_status,
    next_state,
    propose_decision,
)

__all__ = [
    "AGENCY_KINDS",
    "OPERATING_ROOM_KINDS",
    "Action",
    "AgencyEvent",
    "CameraFootage",
    "Channel",
    "DeadlineEntry",
    "DeadlineReport",
    "DeadlineStatus",
    "Decision",
    "DecisionInput",
    "DeskFilter",
    "DeskRow",
    "DeskSummary",
    "DocumentKind",
    "Fulfilment",
    "HistoryItem",
    "NewRequest",
    "Proposal",
    "RefusalGround",
    "RequestKind",
    "RequestService",
    "RequestState",
    "RequesterKind",
    "Upload",
    "approved_scope",
    "check_agency_submission",
    "check_decision",
    "days_left",
    "deadline_ms",
    "deadline_status",
    "next_state",
    "points_to_police",
    "propose_decision",
]
