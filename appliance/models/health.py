"""Health and alarm tables (issue 15; design/health.md): acknowledgements, deliveries to
people, ledger verification results and the recorder's per-day counters.

Each is additive beside the tables it describes (``alarm``, ``camera``), so a raiser of an alarm
never needs to know that an alarm is acknowledged or mailed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from appliance.models._base import ms_column

__all__ = ["AlarmAcknowledgement", "AlarmDelivery", "CameraDayCounter", "LedgerVerification"]


class AlarmAcknowledgement(SQLModel, table=True):
    """Someone saw an open alarm and says what they do about it (also in the ledger)."""

    __tablename__ = "alarm_acknowledgement"

    id: int | None = Field(default=None, primary_key=True)
    alarm_id: int = Field(foreign_key="alarm.id", index=True)
    actor: str = Field(max_length=200)
    note: str = Field(max_length=1000)
    acknowledged_ms: int = ms_column()


class AlarmDelivery(SQLModel, table=True):
    """One message about one alarm to one destination, retried with backoff until delivered
    or given up (``failed_ms``); shown on the health page."""

    __tablename__ = "alarm_delivery"
    __table_args__ = (Index("ix_alarm_delivery_pending", "delivered_ms", "failed_ms"),)

    id: int | None = Field(default=None, primary_key=True)
    alarm_id: int = Field(foreign_key="alarm.id", index=True)
    channel: str = Field(max_length=20)  # email, webhook
    target: str = Field(max_length=500)  # an address, or the webhook URL
    attempts: int = 0
    next_ms: int = ms_column()  # the next attempt is due then
    delivered_ms: int | None = ms_column(nullable=True)
    failed_ms: int | None = ms_column(nullable=True)  # given up after alarms.max_attempts
    last_error: str = Field(default="", max_length=500)
    created_ms: int = ms_column()


class LedgerVerification(SQLModel, table=True):
    """The result of one run of the whole-chain verification (daemon, API or CLI)."""

    __tablename__ = "ledger_verification"

    id: int | None = Field(default=None, primary_key=True)
    verified_ms: int = ms_column(index=True)
    ok: bool
    entries_checked: int = 0
    first_bad_seq: int | None = Field(default=None, sa_type=BigInteger)
    summary: str = Field(default="", max_length=1000)
    via: str = Field(default="", max_length=40)  # daemon, api, cli


class CameraDayCounter(SQLModel, table=True):
    """A camera's counters for one site-local day (the recorder adds as it goes)."""

    __tablename__ = "camera_day_counter"

    camera_id: str = Field(foreign_key="camera.id", primary_key=True, max_length=63)
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD in the site's time zone
    frames_dropped: int = 0
    updated_ms: int = ms_column()
