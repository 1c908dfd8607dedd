"""The checks of the health daemon: each raises its alarm while the condition holds and clears
it when the condition ends (``appliance.alarms``; subjects as documented on ``AlarmKind``).

- ``camera_down`` (subject ``camera:<id>``): not recording for ``alarms.camera_down_after_s``
- ``vault_locked``: footage cannot be viewed until someone types the passphrase
- ``request_new`` (subject ``request:<id>``): an agency's request, still only received
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from appliance.alarms import AlarmKind, clear_alarm, open_alarms, raise_alarm
from appliance.health.cameras import CameraHealth, is_down
from appliance.models import FootageRequest

__all__ = ["check_cameras", "check_new_requests", "check_vault"]


def _describe(camera: CameraHealth) -> str:
    why = f" ({camera.reason})" if camera.reason else ""
    where = f"{camera.id} ({camera.name}, {camera.location})"
    return f"camera {where} is not recording: {camera.state}{why}"


def check_cameras(
    session: Session,
    cameras: list[CameraHealth],
    now_ms: int,
    down_after_ms: int,
    segment_ms: int,
) -> list[str]:
    """Raise ``camera_down`` for every camera down too long, clear it for the others (and for
    cameras no longer configured); return the ids down."""
    down = []
    for camera in cameras:
        subject = f"camera:{camera.id}"
        if is_down(camera, now_ms, down_after_ms, segment_ms):
            down.append(camera.id)
            raise_alarm(session, AlarmKind.camera_down, _describe(camera)[:1000], now_ms, subject)
        else:
            clear_alarm(session, AlarmKind.camera_down, now_ms, subject)
    known = {f"camera:{c.id}" for c in cameras}
    for alarm in open_alarms(session):
        if alarm.kind == AlarmKind.camera_down.value and alarm.subject not in known:
            clear_alarm(session, AlarmKind.camera_down, now_ms, alarm.subject)
    return down


def check_vault(session: Session, unlocked: bool, now_ms: int) -> None:
    if unlocked:
        clear_alarm(session, AlarmKind.vault_locked, now_ms)
    else:
        raise_alarm(
            session,
            AlarmKind.vault_locked,
            "the vault is locked: recording goes on, footage cannot be viewed or exported "
            "until an administrator or officer unlocks it with the passphrase",
            now_ms,
        )


def check_new_requests(session: Session, now_ms: int) -> list[int]:
    """An agency's request waits at the desk while it is only received; return their ids."""
    waiting = [
        int(r.id)
        for r in session.exec(
            select(FootageRequest).where(
                col(FootageRequest.agency_user_id).is_not(None),
                col(FootageRequest.state) == "received",
            )
        ).all()
        if r.id is not None
    ]
    for request_id in waiting:
        raise_alarm(
            session,
            AlarmKind.request_new,
            f"a new request from an agency (request {request_id}) waits for the officer",
            now_ms,
            f"request:{request_id}",
        )
    still = {f"request:{i}" for i in waiting}
    for alarm in open_alarms(session):
        if alarm.kind == AlarmKind.request_new.value and alarm.subject not in still:
            clear_alarm(session, AlarmKind.request_new, now_ms, alarm.subject)
    return waiting
