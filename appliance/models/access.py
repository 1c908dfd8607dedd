"""Login sessions, API tokens, TOTP enrolment, camera grants and viewing sessions.

Owned by ``appliance.access`` and ``appliance.viewing``. Bearer secrets are never stored:
session cookies and API tokens are kept as SHA-256 digests (they carry 256 random bits,
so a slow hash adds nothing).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from appliance.models._base import BIG_ID, ms_column

__all__ = [
    "ApiToken",
    "CameraGrant",
    "LoginSession",
    "RecoveryCode",
    "TotpEnrolment",
    "ViewingSession",
    "ViewingSpan",
]


class LoginSession(SQLModel, table=True):
    """A browser session behind the HttpOnly cookie; ends on logout, idle or absolute timeout."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    user_id: int = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)  # sha256 hex of the cookie value
    # The synchronizer token, kept in clear like any server-side session value: without the
    # cookie it is worth nothing, and the page must be able to fetch it again after a reload.
    csrf_token: str = Field(max_length=64)
    mfa: bool = False  # a TOTP code was checked at login
    remote_addr: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)
    created_ms: int = ms_column()
    last_seen_ms: int = ms_column()
    ended_ms: int | None = ms_column(nullable=True, index=True)
    end_reason: str = Field(default="", max_length=40)  # logout, idle, absolute, revoked


class ApiToken(SQLModel, table=True):
    """A scoped, expiring bearer token of an agency account; shown once, stored as a digest."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)  # first characters, to recognise a token in lists
    scopes: str = Field(max_length=500)  # space-separated Scope values
    created_ms: int = ms_column()
    created_by: str = Field(max_length=120)  # the ledger's actor name
    expires_ms: int = ms_column()
    last_used_ms: int | None = ms_column(nullable=True)
    revoked_ms: int | None = ms_column(nullable=True)
    revoked_by: str | None = Field(default=None, max_length=120)


class TotpEnrolment(SQLModel, table=True):
    """TOTP state beside ``account.totp_secret`` (the active secret; set means required)."""

    __tablename__ = "account_totp"

    user_id: int = Field(foreign_key="account.id", primary_key=True)
    pending_secret: str | None = Field(default=None, max_length=64)  # until confirmed by a code
    last_step: int = Field(default=0, sa_type=BigInteger)  # last accepted time step: no replay


class RecoveryCode(SQLModel, table=True):
    """A one-time code that stands in for a TOTP code (a lost phone); shown once at enrolment,
    kept as a SHA-256 digest (60 random bits, and sign-in is throttled), spent when used."""

    __tablename__ = "account_recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="account.id", index=True)
    code_hash: str = Field(max_length=64)  # sha256 hex of the normalised code
    created_ms: int = ms_column()
    used_ms: int | None = ms_column(nullable=True)


class CameraGrant(SQLModel, table=True):
    """A person's right to view one camera (R-SEC-2); revoked rows stay as history."""

    __tablename__ = "camera_grant"
    __table_args__ = (Index("ix_camera_grant_user_camera", "user_id", "camera_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="account.id")
    camera_id: str = Field(foreign_key="camera.id", max_length=63)
    granted_ms: int = ms_column()
    granted_by: str = Field(max_length=120)  # the ledger's actor name
    revoked_ms: int | None = ms_column(nullable=True)
    revoked_by: str | None = Field(default=None, max_length=120)


class ViewingSession(SQLModel, table=True):
    """One purpose-bound viewing (R-VIEW-1, R-VIEW-3): who, why, which cameras, which range."""

    __tablename__ = "viewing_session"

    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    user_id: int = Field(foreign_key="account.id", index=True)
    login_session_id: int | None = Field(default=None, sa_type=BigInteger)
    kind: str = Field(max_length=10)  # playback or live
    camera_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    start_ms: int | None = ms_column(nullable=True)  # playback range; null for live
    end_ms: int | None = ms_column(nullable=True)
    purpose_category: str = Field(max_length=40)
    purpose_text: str = Field(default="", max_length=1000)
    request_ref: str | None = Field(default=None, max_length=64)  # a request id, if any
    opened_ms: int = ms_column(index=True)
    expires_ms: int = ms_column()
    ended_ms: int | None = ms_column(nullable=True)
    end_reason: str = Field(default="", max_length=40)  # closed, expired, logout
    served_bytes: int = Field(default=0, sa_type=BigInteger)

    def scope(self) -> dict[str, Any]:
        """The session's scope as the ledger records it."""
        return {
            "kind": self.kind,
            "cameras": list(self.camera_ids),
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
        }


class ViewingSpan(SQLModel, table=True):
    """One stream served within a viewing session: what was actually watched."""

    __tablename__ = "viewing_span"

    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    viewing_id: int = Field(sa_type=BigInteger, foreign_key="viewing_session.id", index=True)
    camera_id: str = Field(max_length=63)
    start_ms: int = ms_column()  # requested range (live: when the stream began)
    end_ms: int | None = ms_column(nullable=True)  # live: when it stopped
    began_ms: int = ms_column()
    finished_ms: int | None = ms_column(nullable=True)
    bytes_sent: int = Field(default=0, sa_type=BigInteger)
    outcome: str = Field(default="", max_length=40)  # complete, disconnected, error
