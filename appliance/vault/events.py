"""Feed vault and retention events into the tamper-evident ledger, in the caller's transaction.

``ledger.append(..., session=session)`` writes the entry in the same transaction as the
change it records, so both commit or neither does (fail closed: a ledger that cannot be
written raises ``LedgerUnavailable`` and the change rolls back).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from appliance.ledger import EventType, Ledger

__all__ = ["record_event"]


def record_event(
    ledger: Ledger,
    session: Session,
    event: str,
    *,
    actor: str,
    data: dict[str, Any],
    camera_id: str | None = None,
    ref: str | None = None,
) -> None:
    """Append ``event`` (an ``EventType`` value) to the ledger within ``session``.

    Call it last in the transaction: the ledger keeps its tip locked until the commit.
    """
    ledger.append(
        EventType(event), actor=actor, data=data, camera_id=camera_id, ref=ref, session=session
    )
