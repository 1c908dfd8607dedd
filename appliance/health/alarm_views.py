"""Open alarms as people see them (with who acknowledged them), and acknowledging one: a note
from someone who will act, recorded in the ledger in the same transaction (``alarm_acknowledged``).

An acknowledgement does not close an alarm: only the end of its condition does (the raiser
clears it), so an acknowledged camera that is still dark stays on the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from appliance.access import Permission, Principal
from appliance.alarms import open_alarms
from appliance.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from appliance.ledger.events import EventType
from appliance.ledger.store import Ledger
from appliance.models import Alarm
from appliance.models.health import AlarmAcknowledgement

__all__ = ["NOTE_MAX", "AlarmView", "acknowledge_alarm", "alarm_views"]

NOTE_MAX = 1000


@dataclass(frozen=True)
class AlarmView:
    id: int
    kind: str
    subject: str
    message: str
    raised_ms: int
    last_ms: int
    acknowledged_by: str  # "" while nobody has
    acknowledged_ms: int | None
    note: str


def alarm_views(session: Session) -> list[AlarmView]:
    """Every open alarm, oldest first, with its latest acknowledgement."""
    alarms = open_alarms(session)
    ids = [a.id for a in alarms if a.id is not None]
    acks: dict[int, AlarmAcknowledgement] = {}
    if ids:
        for ack in session.exec(
            select(AlarmAcknowledgement)
            .where(col(AlarmAcknowledgement.alarm_id).in_(ids))
            .order_by(col(AlarmAcknowledgement.id))
        ).all():
            acks[ack.alarm_id] = ack  # the latest wins
    out = []
    for alarm in alarms:
        assert alarm.id is not None
        latest = acks.get(alarm.id)
        out.append(
            AlarmView(
                id=alarm.id,
                kind=alarm.kind,
                subject=alarm.subject,
                message=alarm.message,
                raised_ms=alarm.raised_ms,
                last_ms=alarm.last_ms,
                acknowledged_by=latest.actor if latest else "",
                acknowledged_ms=latest.acknowledged_ms if latest else None,
                note=latest.note if latest else "",
            )
        )
    return out


def acknowledge_alarm(
    session: Session, ledger: Ledger, principal: Principal, alarm_id: int, note: str, now_ms: int
) -> AlarmAcknowledgement:
    """Record ``principal``'s note on the open alarm ``alarm_id``; ledgered first-class (the
    entry is written in this transaction: both or neither)."""
    if not principal.can(Permission.acknowledge_alarms):
        raise PermissionDenied("acknowledging alarms needs the admin or officer role")
    note = note.strip()
    if not note:
        raise ValidationFailed("say what you are doing about it (a note is required)")
    if len(note) > NOTE_MAX:
        raise ValidationFailed(f"the note is longer than {NOTE_MAX} characters")
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise NotFound(f"no alarm {alarm_id}")
    if alarm.cleared_ms is not None:
        raise Conflict("this alarm has already cleared")
    ack = AlarmAcknowledgement(
        alarm_id=alarm_id, actor=principal.actor, note=note, acknowledged_ms=now_ms
    )
    session.add(ack)
    session.flush()
    ledger.append(
        EventType.alarm_acknowledged,
        actor=principal.actor,
        ref=str(alarm_id),
        data={"kind": alarm.kind, "subject": alarm.subject, "note": note},
        session=session,
    )
    return ack
