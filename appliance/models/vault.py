"""Vault key registry, holds, the purge journal, the destruction ledger and open alarms.

Owned by ``appliance.vault`` and ``appliance.retention``; see design/keys.md and
design/retention.md for the lifecycle these rows record.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from appliance.models._base import BIG_ID, ms_column

__all__ = ["Alarm", "DestructionRecord", "Hold", "HoldCamera", "PurgeItem", "PurgeJob", "VaultKey"]


class VaultKey(SQLModel, table=True):
    """One vault X25519 key pair; mirrors the key dir (the files are the truth for `current`)."""

    __tablename__ = "vault_key"

    key_id: str = Field(primary_key=True, max_length=64)
    public_hex: str = Field(max_length=64)
    created_ms: int = ms_column()
    retired_ms: int | None = ms_column(nullable=True)  # set when another key became current
    destroyed_ms: int | None = ms_column(nullable=True)  # private key file overwritten+unlinked
    destroyed_by: str = Field(default="", max_length=200)


class Hold(SQLModel, table=True):
    """Footage that must not be purged: a request or investigation is open (R-RET-3)."""

    id: int | None = Field(default=None, primary_key=True)
    start_ms: int = ms_column()  # held range, [start_ms, end_ms)
    end_ms: int = ms_column()
    reason: str = Field(max_length=500)
    reference: str = Field(default="", max_length=200)  # request id or investigation reference
    placed_by: str = Field(max_length=200)
    placed_ms: int = ms_column()
    expires_ms: int | None = ms_column(nullable=True)  # released by the purge cycle after this
    released_ms: int | None = ms_column(index=True, nullable=True)
    released_by: str = Field(default="", max_length=200)
    release_reason: str = Field(default="", max_length=500)


class HoldCamera(SQLModel, table=True):
    """The cameras a hold covers."""

    __tablename__ = "hold_camera"

    hold_id: int = Field(foreign_key="hold.id", primary_key=True)
    camera_id: str = Field(foreign_key="camera.id", primary_key=True, max_length=63, index=True)


class PurgeJob(SQLModel, table=True):
    """A purge batch whose keys are destroyed but whose files/rows may remain (the journal).

    Written in the same transaction that nulls the sealed keys; deleted once the files are
    unlinked and the segment rows removed. A row left behind by a crash is finished on start.
    """

    __tablename__ = "purge_job"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are cited by destruction records

    id: int | None = Field(default=None, primary_key=True)
    reason: str = Field(max_length=40)
    actor: str = Field(max_length=200)
    created_ms: int = ms_column()


class PurgeItem(SQLModel, table=True):
    """A segment in a purge batch. No foreign key: the segment row goes before the item."""

    __tablename__ = "purge_item"

    segment_id: int = Field(
        sa_type=BIG_ID, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    job_id: int = Field(foreign_key="purge_job.id", index=True)


class DestructionRecord(SQLModel, table=True):
    """The destruction ledger (R-RET-4): one row per purge batch and camera, or per key."""

    __tablename__ = "destruction_record"
    __table_args__ = (
        Index("ix_destruction_record_camera_start", "camera_id", "start_ms"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    executed_ms: int = ms_column(index=True)
    batch_id: int | None = None  # the purge job (not a foreign key: jobs are deleted when done)
    camera_id: str | None = Field(default=None, foreign_key="camera.id", max_length=63)
    segment_count: int = 0
    start_ms: int | None = ms_column(nullable=True)  # footage range destroyed (envelope)
    end_ms: int | None = ms_column(nullable=True)
    size_bytes: int = Field(default=0, sa_type=BigInteger)
    # BLAKE2b-256 over the destroyed segments' ciphertext hashes in time order.
    segments_digest: str = Field(default="", max_length=64)
    method: str = Field(max_length=40)
    reason: str = Field(max_length=40)
    executed_by: str = Field(max_length=200)
    vault_key_id: str = Field(default="", max_length=64)  # for a key destruction
    note: str = Field(default="", max_length=500)


class Alarm(SQLModel, table=True):
    """A condition an operator must see (storage pressure, protected-only disk, ...)."""

    __table_args__ = (Index("ix_alarm_kind_subject", "kind", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    subject: str = Field(default="", max_length=200)  # e.g. a camera id; "" for the appliance
    message: str = Field(max_length=1000)
    raised_ms: int = ms_column()
    last_ms: int = ms_column()  # last time the condition was seen
    cleared_ms: int | None = ms_column(index=True, nullable=True)
