"""Open alarms: conditions an operator must see (for the web page, metrics and the CLI).

An alarm is identified by (kind, subject); raising an open one only refreshes it, clearing
closes it. The history stays in the table.
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import Session, col, select

from appliance.models import Alarm

__all__ = ["AlarmKind", "clear_alarm", "open_alarms", "raise_alarm"]


class AlarmKind(StrEnum):
    storage_low = "storage_low"  # free space below alarm_free_bytes
    storage_pressure = "storage_pressure"  # footage purged early to free space
    storage_protected_full = "storage_protected_full"  # only held/minimum footage left
    unknown_group = "unknown_group"  # a camera's group is not configured: nothing purged
    purge_failed = "purge_failed"  # a purge cycle raised
    integrity = "integrity"  # fsck found damaged, missing or orphaned files


def raise_alarm(
    session: Session, kind: AlarmKind | str, message: str, now_ms: int, subject: str = ""
) -> Alarm:
    """Open (or refresh) the alarm ``(kind, subject)``; other domains may use their own kinds
    (a short snake_case string)."""
    kind = str(kind)
    alarm = session.exec(
        select(Alarm).where(
            Alarm.kind == kind,
            Alarm.subject == subject,
            col(Alarm.cleared_ms).is_(None),
        )
    ).first()
    if alarm is None:
        alarm = Alarm(kind=kind, subject=subject, message=message, raised_ms=now_ms, last_ms=now_ms)
    else:
        alarm.message, alarm.last_ms = message, now_ms
    session.add(alarm)
    session.flush()
    return alarm


def clear_alarm(session: Session, kind: AlarmKind | str, now_ms: int, subject: str = "") -> bool:
    """Close the open alarm ``(kind, subject)``; False if none was open."""
    alarm = session.exec(
        select(Alarm).where(
            Alarm.kind == str(kind),
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
