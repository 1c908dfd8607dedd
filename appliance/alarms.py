"""Every kind of alarm, in one enum: the values stored in ``alarm.kind``.

An alarm is a condition an operator must see (web page, metrics, CLI). An alarm is identified
by (kind, subject); raising an open one only refreshes it, clearing closes it, and the history
stays in the table. The kinds and the writers live here, below every domain package, so every
domain raises from one list, no two domains reuse a word, and no domain imports another to
raise one.
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import Session, col, select

from appliance.models import Alarm

__all__ = ["AlarmKind", "clear_alarm", "open_alarms", "raise_alarm"]


class AlarmKind(StrEnum):
    """The ``alarm.kind`` values (stored as text: adding a kind needs no migration)."""

    # retention
    storage_low = "storage_low"  # free space below alarm_free_bytes
    storage_pressure = "storage_pressure"  # footage purged early to free space
    storage_protected_full = "storage_protected_full"  # only held/minimum footage left
    unknown_group = "unknown_group"  # a camera's group is not configured: nothing purged
    purge_failed = "purge_failed"  # a purge cycle raised
    integrity = "integrity"  # fsck found damaged, missing or orphaned files
    # vault (design/keys.md)
    key_rotation_overdue = "key_rotation_overdue"  # the automatic rotation failed
    keys_in_clear = "keys_in_clear"  # private keys in clear at rest (permanent)
    # requests (subject ``request:<id>``)
    request_overdue = "request_overdue"  # the 10-day notice is late (R-REQ-3/4)
    request_due_soon = "request_due_soon"  # the notice is due within requests.due_soon_days
    # access (subject ``user:<id>``)
    privileged_account = "privileged_account"  # a new officer or admin (issue 13)
    privileged_reset = "privileged_reset"  # an officer's/admin's password reset by someone else
    # health (issue 15; raised and cleared by appliance.health.checks, design/health.md)
    camera_down = "camera_down"  # subject ``camera:<id>``: not recording for camera_down_after_s
    vault_locked = "vault_locked"  # footage cannot be viewed until the passphrase is typed
    request_new = "request_new"  # subject ``request:<id>``: an agency's request awaits the desk
    ledger_integrity = "ledger_integrity"  # the last chain verification found a bad entry
    # policy (issue 17; raised and cleared by appliance.policy.versions, design/policy.md)
    policy_outdated = "policy_outdated"  # the published policy no longer matches the system
    # backup (issue 18; raised and cleared by appliance.backup.daemon, design/backup.md)
    backup_failed = "backup_failed"  # a scheduled backup is due and could not be written
    # recorder nodes (issue 19; raised by recorder.cluster and recorder.diskguard, design/scale.md)
    node_down = "node_down"  # subject ``node:<id>``: its heartbeat stopped; cameras taken over
    camera_moved = "camera_moved"  # subject ``camera:<id>``: recorded by another node (a gap)
    recorder_disk_floor = "recorder_disk_floor"  # subject ``node:<id>``: no segment written
    # object store (issue 19; raised and cleared by appliance.storage.uploader)
    upload_failing = "upload_failing"  # segments are not reaching the object store (retrying)


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
