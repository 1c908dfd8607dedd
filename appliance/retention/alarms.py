"""Open alarms: conditions an operator must see (for the web page, metrics and the CLI).

An alarm is identified by (kind, subject); raising an open one only refreshes it, clearing
closes it. The history stays in the table. The kinds are ``appliance.alarms.AlarmKind``
(re-exported here for retention's callers).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from appliance.alarms import AlarmKind
from appliance.models import Alarm

__all__ = ["AlarmKind", "clear_alarm", "open_alarms", "raise_alarm"]


def raise_alarm(
    session: Session, kind: AlarmKind, message: str, now_ms: int, subject: str = ""
) -> Alarm:
    """Open (or refresh) the alarm ``(kind, subject)``."""
    alarm = session.exec(
        select(Alarm).where(
            Alarm.kind == kind.value,
            Alarm.subject == subject,
            col(Alarm.cleared_ms).is_(None),
        )
    ).first()
    if alarm is None:
        alarm = Alarm(
            kind=kind.value, subject=subject, message=message, raised_ms=now_ms, last_ms=now_ms
        )
    else:
        alarm.message, alarm.last_ms = message, now_ms
    session.add(alarm)
    session.flush()
    return alarm


def clear_alarm(session: Session, kind: AlarmKind, now_ms: int, subject: str = "") -> bool:
    """Close the open alarm ``(kind, subject)``; False if none was open."""
    alarm = session.exec(
        select(Alarm).where(
            Alarm.kind == kind.value,
            Alarm.subject == subject,
            col(Alarm.cleared_ms).is_(None),
        )
    ).first()
    if alarm is None:
        return False
    alarm.cleared_ms = now_ms
    session.add(alarm)
    session.flush()
    return True


def open_alarms(session: Session) -> list[Alarm]:
    """Every alarm not cleared, oldest first."""
    return list(
        session.exec(
            select(Alarm).where(col(Alarm.cleared_ms).is_(None)).order_by(col(Alarm.raised_ms))
        ).all()
    )
