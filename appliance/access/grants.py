"""Per-person camera grants (R-SEC-2): who may view which camera; history is kept."""

from __future__ import annotations

from sqlmodel import Session, col, select

from appliance.clock import Clock
from appliance.errors import Conflict, NotFound
from appliance.models import Camera
from appliance.models.access import CameraGrant

__all__ = ["active_grant", "add_grant", "grant_history", "granted_cameras", "revoke_grant"]


def active_grant(session: Session, user_id: int, camera_id: str) -> CameraGrant | None:
    return session.exec(
        select(CameraGrant).where(
            CameraGrant.user_id == user_id,
            CameraGrant.camera_id == camera_id,
            col(CameraGrant.revoked_ms).is_(None),
        )
    ).first()


def granted_cameras(session: Session, user_id: int) -> list[str]:
    """Ids of the cameras currently granted to the account, sorted."""
    rows = session.exec(
        select(CameraGrant.camera_id).where(
            CameraGrant.user_id == user_id, col(CameraGrant.revoked_ms).is_(None)
        )
    ).all()
    return sorted(set(rows))


def grant_history(session: Session, user_id: int) -> list[CameraGrant]:
    return list(
        session.exec(
            select(CameraGrant).where(CameraGrant.user_id == user_id).order_by(col(CameraGrant.id))
        ).all()
    )


def add_grant(
    session: Session, clock: Clock, *, user_id: int, camera_id: str, by: str
) -> CameraGrant:
    if session.get(Camera, camera_id) is None:
        raise NotFound(f"no camera {camera_id!r}")
    if active_grant(session, user_id, camera_id) is not None:
        raise Conflict(f"camera {camera_id!r} is already granted")
    row = CameraGrant(
        user_id=user_id, camera_id=camera_id, granted_ms=clock.now_ms(), granted_by=by
    )
    session.add(row)
    session.flush()
    return row


def revoke_grant(
    session: Session, clock: Clock, *, user_id: int, camera_id: str, by: str
) -> CameraGrant:
    row = active_grant(session, user_id, camera_id)
    if row is None:
        raise NotFound(f"camera {camera_id!r} is not granted")
    row.revoked_ms, row.revoked_by = clock.now_ms(), by
    session.add(row)
    return row
