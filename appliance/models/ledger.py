"""The tamper-evident ledger's tables (design/ledger.md).

``ledger_entry`` is the hash chain; ``ledger_tip`` is its one-row tip, locked by every append so the
chain never forks; ``ledger_signed_head`` keeps the signed heads and retention checkpoints,
each chained to the one signed before it (``prev_hash``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from appliance.models._base import BIG_ID, ms_column

__all__ = ["LedgerEntry", "LedgerSignedHead", "LedgerTip"]


class LedgerEntry(SQLModel, table=True):
    """One event. ``hash`` = BLAKE2b-256(previous hash || canonical encoding of the row)."""

    __tablename__ = "ledger_entry"

    # Assigned under the tip lock, never by the database: 1, 2, 3 ... with no gaps.
    seq: int = Field(sa_column=Column(BIG_ID, primary_key=True, autoincrement=False))
    ts_ms: int = ms_column(index=True)
    event: str = Field(max_length=40)  # appliance.ledger.EventType
    actor: str = Field(max_length=200)  # username, "recorder", "system", an agency client ...
    camera_id: str | None = Field(default=None, max_length=63)  # no FK: the ledger outlives rows
    ref: str | None = Field(default=None, max_length=200)  # request id, view session, hold id ...
    data: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON object
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # 32 bytes


class LedgerTip(SQLModel, table=True):
    """The chain's last entry (row id 1 only); seq 0 with 32 zero bytes before the first entry."""

    __tablename__ = "ledger_tip"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_type=BigInteger)
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ts_ms: int = ms_column()


class LedgerSignedHead(SQLModel, table=True):
    """A signed (seq, hash): ``kind`` "head" (periodic, on stop, exported) or "checkpoint" (cut)."""

    __tablename__ = "ledger_signed_head"
    __table_args__ = (Index("ix_ledger_signed_head_kind_seq", "kind", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    seq: int = Field(sa_type=BigInteger)
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signed_ms: int = ms_column()
    key_id: str = Field(max_length=64)  # first 16 hex digits of the ed25519 verify key
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # head_hash of the head signed before this one (format 2); NULL for a format 1 head.
    prev_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
