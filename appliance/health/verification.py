"""Ledger verification results, recorded wherever the chain is verified (the health daemon,
``GET /api/ledger/verify``, ``appliance ledger verify``), so the health page can say when it was
last checked and what was found; a bad result raises ``ledger_integrity``, a good one clears it.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from appliance.alarms import AlarmKind, clear_alarm, raise_alarm
from appliance.ledger.verify import VerifyReport
from appliance.models.health import LedgerVerification

__all__ = ["last_verification", "record_verification"]


def record_verification(
    session: Session, report: VerifyReport, now_ms: int, via: str
) -> LedgerVerification:
    """Store ``report`` and raise or clear the ``ledger_integrity`` alarm to match it."""
    row = LedgerVerification(
        verified_ms=now_ms,
        ok=report.ok,
        entries_checked=report.entries_checked,
        first_bad_seq=report.first_bad_seq,
        summary=report.summary()[:1000],
        via=via[:40],
    )
    session.add(row)
    if report.ok:
        clear_alarm(session, AlarmKind.ledger_integrity, now_ms)
    else:
        raise_alarm(
            session,
            AlarmKind.ledger_integrity,
            f"ledger verification failed at seq {report.first_bad_seq}: {report.problem}"[:1000],
            now_ms,
        )
    session.flush()
    return row


def last_verification(session: Session) -> LedgerVerification | None:
    return session.exec(
        select(LedgerVerification).order_by(col(LedgerVerification.id).desc()).limit(1)
    ).first()
