"""The one place where access events go into the tamper-evident ledger.

Each call appends inside the caller's database transaction, so the ledger entry and the
change it records commit together or not at all; a ledger that cannot be written raises
``LedgerUnavailable`` and the change is rolled back (fail closed, invariant 5).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from appliance.ledger import EventType, Ledger

__all__ = ["EventType", "Ledger", "record"]


def record(
    ledger: Ledger,
    session: Session,
    event: EventType,
    *,
    actor: str,
    data: dict[str, Any],
    camera_id: str | None = None,
    ref: str | None = None,
) -> int:
    """Append ``event`` in ``session``'s transaction (call it last, just before the commit).

    Returns the entry's seq; raises LedgerUnavailable if it cannot be written.
    """
    return ledger.append(
        event, actor=actor, data=data, camera_id=camera_id, ref=ref, session=session
    )
