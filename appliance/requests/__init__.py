"""Requests for existence confirmation, viewing, copy and deletion (R-REQ-1..9).

``workflow`` holds the rules as pure functions (state machine, 10-day clock, decision checks,
proposals); ``service.RequestService`` runs each step as one transaction with its hold, notice
and ledger entries; ``notices`` renders the Korean notices. See design/requests.md.
"""

from __future__ import annotations

from appliance.requests.kinds import (
    AGENCY_KINDS,
    OPERATING_ROOM_KINDS,
    Channel,
    Decision,
    DocumentKind,
    Fulfilment,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestState,
)
from appliance.requests.service import (
    ALARM_DUE_SOON,
    ALARM_OVERDUE,
    DeadlineEntry,
    DeadlineReport,
    NewRequest,
    RequestService,
    Upload,
)
from appliance.requests.workflow import (
    Action,
    CameraFootage,
    DeadlineStatus,
    DecisionInput,
    Proposal,
    check_decision,
    deadline_ms,
    deadline_status,
    next_state,
    propose_decision,
)

__all__ = [
    "AGENCY_KINDS",
    "ALARM_DUE_SOON",
    "ALARM_OVERDUE",
    "OPERATING_ROOM_KINDS",
    "Action",
    "CameraFootage",
    "Channel",
    "DeadlineEntry",
    "DeadlineReport",
    "DeadlineStatus",
    "Decision",
    "DecisionInput",
    "DocumentKind",
    "Fulfilment",
    "NewRequest",
    "Proposal",
    "RefusalGround",
    "RequestKind",
    "RequestService",
    "RequestState",
    "RequesterKind",
    "Upload",
    "check_decision",
    "deadline_ms",
    "deadline_status",
    "next_state",
    "propose_decision",
]
