"""What the ledger API and the ledger page share: who may read and sign, a destruction row.

Not a router: ``api.routes.ledger`` (JSON, CSV, print) and ``api.routes.ledger_pages`` (the
/ledger page) both import it, so neither route module imports the other.
"""

from __future__ import annotations

from datetime import tzinfo
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from appliance.clock import from_ms
from appliance.models import DestructionRecord
from appliance.retention.destruction import METHOD_KO, REASON_KO, Method, Reason

__all__ = ["DestructionOut", "destruction_out"]

# Who viewed what is itself personal data: the officer and the auditor read the ledgers (minimum
# rights, R-SEC-2); the auditor never sees video. Integrity (verify, the latest signed head)
# reveals no entry, so the admin who keeps the box running may check it, and sign heads.
_SECONDS = "%Y-%m-%d %H:%M:%S"


class DestructionOut(BaseModel):
    """One row of the destruction ledger: a purge batch of a camera, or a destroyed vault key."""

    id: int
    executed_ms: int
    executed_at: str
    camera_id: str | None
    camera_name: str
    vault_key_id: str
    segment_count: int
    start_ms: int | None
    end_ms: int | None
    footage_range: str
    size_bytes: int
    method: str
    method_ko: str
    reason: str
    reason_ko: str
    executed_by: str
    segments_digest: str
    note: str


def _label(table: dict[Any, str], kind: type[StrEnum], value: str) -> str:
    try:
        return table.get(kind(value), value)
    except ValueError:
        return value


def destruction_out(
    record: DestructionRecord, names: dict[str, str], zone: tzinfo
) -> DestructionOut:
    """The record as display text, times in ``zone`` (the site's)."""
    assert record.id is not None
    camera = record.camera_id

    def local(ms: int) -> str:
        return from_ms(ms).astimezone(zone).strftime(_SECONDS)

    return DestructionOut(
        id=record.id,
        executed_ms=record.executed_ms,
        executed_at=local(record.executed_ms),
        camera_id=camera,
        camera_name=names.get(camera, camera) if camera else "",
        vault_key_id=record.vault_key_id,
        segment_count=record.segment_count,
        start_ms=record.start_ms,
        end_ms=record.end_ms,
        footage_range=(
            f"{local(record.start_ms)} ~ "
            f"{local(record.end_ms) if record.end_ms is not None else ''}"
            if record.start_ms is not None
            else ""
        ),
        size_bytes=record.size_bytes,
        method=record.method,
        method_ko=_label(METHOD_KO, Method, record.method),
        reason=record.reason,
        reason_ko=_label(REASON_KO, Reason, record.reason),
        executed_by=record.executed_by,
        segments_digest=record.segments_digest,
        note=record.note,
    )
