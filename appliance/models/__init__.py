"""All tables. Each domain module owns its tables; importing this package registers them all
in ``metadata``, which Alembic compares against the migrations (a test keeps them equal).

Conventions: times are UTC integer milliseconds in ``*_ms`` columns; sizes in ``*_bytes``.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from appliance.models._base import NAMING_CONVENTION
from appliance.models.access import (
    ApiToken,
    CameraGrant,
    LoginSession,
    TotpEnrolment,
    ViewingSession,
    ViewingSpan,
)
from appliance.models.core import Camera, Role, User
from appliance.models.health import (
    AlarmAcknowledgement,
    AlarmDelivery,
    CameraDayCounter,
    LedgerVerification,
)
from appliance.models.ledger import LedgerEntry, LedgerSignedHead, LedgerTip
from appliance.models.media import CameraStatus, Gap, PendingSegment, Run, Segment
from appliance.models.nodes import CameraLease, RecorderNode
from appliance.models.policy import PolicyVersion
from appliance.models.requests import FootageRequest, RequestDocument, RequestExport, RequestNotice
from appliance.models.vault import (
    Alarm,
    DestructionRecord,
    Hold,
    HoldCamera,
    PurgeItem,
    PurgeJob,
    VaultKey,
)

SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata

__all__ = [
    "Alarm",
    "AlarmAcknowledgement",
    "AlarmDelivery",
    "ApiToken",
    "Camera",
    "CameraDayCounter",
    "CameraGrant",
    "CameraLease",
    "CameraStatus",
    "DestructionRecord",
    "FootageRequest",
    "Gap",
    "Hold",
    "HoldCamera",
    "LedgerEntry",
    "LedgerSignedHead",
    "LedgerTip",
    "LedgerVerification",
    "LoginSession",
    "PendingSegment",
    "PolicyVersion",
    "PurgeItem",
    "PurgeJob",
    "RecorderNode",
    "RequestDocument",
    "RequestExport",
    "RequestNotice",
    "Role",
    "Run",
    "Segment",
    "TotpEnrolment",
    "User",
    "VaultKey",
    "ViewingSession",
    "ViewingSpan",
    "metadata",
]
