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
from appliance.models.ledger import LedgerEntry, LedgerSignedHead, LedgerTip
from appliance.models.media import CameraStatus, Gap, PendingSegment, Run, Segment

SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata

__all__ = [
    "ApiToken",
    "Camera",
    "CameraGrant",
    "CameraStatus",
    "Gap",
    "LedgerEntry",
    "LedgerSignedHead",
    "LedgerTip",
    "LoginSession",
    "PendingSegment",
    "Role",
    "Run",
    "Segment",
    "TotpEnrolment",
    "User",
    "ViewingSession",
    "ViewingSpan",
    "metadata",
]
