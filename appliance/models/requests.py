"""Requests for existence confirmation, viewing, copy and deletion; their documents, notices and
exports. Owned by ``appliance.requests`` (design/requests.md).

Documents are stored encrypted (the key sealed to the vault public key, like a segment);
packages live in the exports dir as ciphertext, and ``request_export`` indexes them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from appliance.models._base import ms_column

__all__ = ["FootageRequest", "RequestDocument", "RequestExport", "RequestNotice"]


class FootageRequest(SQLModel, table=True):
    """One request from receipt to closure (R-REQ-1..9); the row is the current state, the
    ledger holds every change."""

    __tablename__ = "footage_request"
    __table_args__ = (Index("ix_footage_request_state_due", "state", "due_ms"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # RequestKind
    state: str = Field(max_length=20)  # RequestState
    channel: str = Field(max_length=20)  # how it came in (Channel)
    # Who asks (R-REQ-1)
    requester_kind: str = Field(max_length=20)  # RequesterKind
    requester_name: str = Field(max_length=200)
    requester_org: str = Field(default="", max_length=200)  # agency, court, police station
    requester_contact: str = Field(default="", max_length=300)  # phone / e-mail / address
    # The language notices are printed in (``ko`` or ``en``; Korean unless the requester reads
    # English): NOTICE_LANGUAGES in appliance.requests.notices.
    requester_language: str = Field(default="ko", max_length=8)
    agency_user_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    subject_description: str = Field(default="", max_length=1000)  # whose images, how recognised
    purpose: str = Field(default="", max_length=1000)
    legal_basis: str = Field(default="", max_length=300)
    letter_reference: str = Field(default="", max_length=200)  # official letter number
    # What footage
    camera_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    start_ms: int = ms_column()
    end_ms: int = ms_column()
    # Receipt and the 10-day clock (R-REQ-3)
    received_ms: int = ms_column()
    received_by: str = Field(max_length=200)
    due_ms: int = ms_column(index=True)
    hold_id: int | None = None  # the hold placed at receipt (holds are never deleted)
    # Identity and authority check (R-REQ-2)
    id_document: str = Field(default="", max_length=200)  # e.g. 주민등록증, 공문, 위임장
    id_checked_by: str = Field(default="", max_length=200)
    id_checked_ms: int | None = ms_column(nullable=True)
    id_note: str = Field(default="", max_length=500)
    consent_ref: str = Field(default="", max_length=300)  # every subject's consent (R-REQ-9)
    # Decision (R-REQ-3, R-REQ-4)
    decision: str | None = Field(default=None, max_length=20)  # Decision
    decision_reason: str = Field(default="", max_length=2000)
    refusal_ground: str | None = Field(default=None, max_length=30)  # RefusalGround
    destruction_refs: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    approved_camera_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    approved_start_ms: int | None = ms_column(nullable=True)
    approved_end_ms: int | None = ms_column(nullable=True)
    viewing_ms: int | None = ms_column(nullable=True)
    viewing_place: str = Field(default="", max_length=300)
    officer: str = Field(default="", max_length=200)  # officer in charge / present
    postponed_until_ms: int | None = ms_column(nullable=True)
    decided_ms: int | None = ms_column(nullable=True)
    decided_by: str = Field(default="", max_length=200)
    # Notice (the first one stops the 10-day clock)
    notified_ms: int | None = ms_column(nullable=True)
    notice_channel: str = Field(default="", max_length=20)
    # Fulfilment and closure
    fulfilment: str | None = Field(default=None, max_length=30)  # Fulfilment
    fulfilled_ms: int | None = ms_column(nullable=True)
    officer_present: str = Field(default="", max_length=200)
    witness: str = Field(default="", max_length=200)
    fee_krw: int = 0  # charged, actual cost only (R-REQ-8)
    fee_note: str = Field(default="", max_length=300)
    closed_ms: int | None = ms_column(nullable=True)
    closed_by: str = Field(default="", max_length=200)
    close_note: str = Field(default="", max_length=500)
    created_ms: int = ms_column()
    updated_ms: int = ms_column()

    def scope(self) -> dict[str, Any]:
        return {"cameras": list(self.camera_ids), "from_ms": self.start_ms, "to_ms": self.end_ms}


class RequestDocument(SQLModel, table=True):
    """An uploaded document (official letter, ID copy, power of attorney ...), encrypted."""

    __tablename__ = "request_document"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="footage_request.id", index=True)
    kind: str = Field(max_length=30)  # DocumentKind
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size_bytes: int = Field(sa_type=BigInteger)  # plaintext size
    sha256_hex: str = Field(max_length=64)  # of the plaintext, to prove what was received
    vault_key_id: str = Field(max_length=64)
    sealed_key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    # SecretBox; NULL once destroyed (``requests.document_keep_days`` after closure)
    ciphertext: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    uploaded_ms: int = ms_column()
    uploaded_by: str = Field(max_length=200)
    # Destruction: content and sealed key gone; kind, size and hash stay to show what it was.
    destroyed_ms: int | None = ms_column(nullable=True)
    destroyed_by: str = Field(default="", max_length=200)
    destruction_id: int | None = None  # its destruction_record


class RequestNotice(SQLModel, table=True):
    """A notice to the requester, as rendered (Korean, printable), and when and how it was sent."""

    __tablename__ = "request_notice"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="footage_request.id", index=True)
    kind: str = Field(max_length=20)  # the Decision it notifies
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    created_ms: int = ms_column()
    created_by: str = Field(max_length=200)
    sent_ms: int = ms_column()
    channel: str = Field(max_length=20)  # Channel


class RequestExport(SQLModel, table=True):
    """A masked, signed, encrypted package made for a request (a file in the exports dir)."""

    __tablename__ = "request_export"

    id: str = Field(primary_key=True, max_length=64)  # the package id
    request_id: int = Field(foreign_key="footage_request.id", index=True)
    file: str = Field(max_length=200)  # relative to the exports dir
    size_bytes: int = Field(sa_type=BigInteger)
    blake2b_hex: str = Field(max_length=64)  # of the package file
    camera_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    start_ms: int = ms_column()
    end_ms: int = ms_column()
    frames: int = 0
    masked_boxes: int = 0
    created_ms: int = ms_column()
    created_by: str = Field(max_length=200)
    handed_over_ms: int | None = ms_column(nullable=True)
    handed_over_to: str = Field(default="", max_length=200)
    downloads: int = 0
    # The package's content key sealed to the vault (the appliance's own way back in, and
    # re-sealed on rotation); NULL once destroyed, and for packages made before 0008, whose
    # vault slot is in the file's header.
    vault_key_id: str = Field(default="", max_length=64)
    sealed_key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    # Destruction (``requests.export_keep_days``): file overwritten and unlinked, key NULL.
    destroyed_ms: int | None = ms_column(nullable=True)
    destroyed_by: str = Field(default="", max_length=200)
    destruction_id: int | None = None  # its destruction_record
