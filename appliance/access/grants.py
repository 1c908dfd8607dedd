"""Per-person camera grants (R-SEC-2): who may view which camera; history is kept.

The functions work inside a caller's transaction; ``GrantService`` runs the recorded changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from appliance.access._shared import AccessBase, need, user_row
from appliance.access.principal import Principal
from appliance.access.roles import Permission, may_see_camera, may_view_camera, permits
from appliance.clock import Clock
from appliance.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from appliance.models import Camera
from appliance.models.access import CameraGrant

__all__ = [
    "GrantService",
    "active_grant",
    "add_grant",
    "grant_history",
    "granted_cameras",
    "revoke_grant",
]


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


class GrantService(AccessBase):
    """Granting and revoking cameras (permission ``manage_grants``), and reading grants."""

    def granted_cameras(self, user_id: int) -> list[str]:
        with self.db.session() as session:
            return granted_cameras(session, user_id)

    def grant_history(self, principal: Principal, user_id: int) -> list[CameraGrant]:
        if user_id != principal.user_id and not principal.can(Permission.manage_grants):
            raise PermissionDenied("you may only read your own grants")
        with self.db.session() as session:
            user_row(session, user_id)
            return grant_history(session, user_id)

    def change_grants(
        self,
        principal: Principal,
        user_id: int,
        *,
        add: Iterable[str] = (),
        revoke: Iterable[str] = (),
    ) -> list[str]:
        """Grant and revoke cameras for one person in one recorded change; returns the grants."""
        need(principal, Permission.manage_grants)
        add, revoke = sorted(set(add)), sorted(set(revoke))
        if set(add) & set(revoke):
            raise ValidationFailed("a camera cannot be granted and revoked at once")
        with self.db.session() as session:
            user = user_row(session, user_id)
            assert user.id is not None
            if add:
                if user.id == principal.user_id:
                    raise PermissionDenied("a grant to oneself must come from someone else")
                if not permits(user.role, Permission.view_footage) or permits(
                    user.role, Permission.view_any_camera
                ):
                    raise ValidationFailed(f"a {user.role} account does not take camera grants")
            for camera_id in add:
                add_grant(
                    session, self.clock, user_id=user.id, camera_id=camera_id, by=principal.actor
                )
            for camera_id in revoke:
                revoke_grant(
                    session, self.clock, user_id=user.id, camera_id=camera_id, by=principal.actor
                )
            for cameras, granted in ((add, True), (revoke, False)):
                if cameras:
                    self._grant_changed(session, principal, user, cameras, granted=granted)
            return granted_cameras(session, user.id)

    def cameras_for(self, principal: Principal) -> list[tuple[Camera, bool]]:
        """The cameras whose metadata the principal may see, each with whether it may view it."""
        with self.db.session() as session:
            granted = granted_cameras(session, principal.user_id)
            cameras = session.exec(select(Camera).order_by(col(Camera.id))).all()
            return [
                (c, may_view_camera(principal.role, granted, c.id))
                for c in cameras
                if may_see_camera(principal.role, granted, c.id)
            ]
