"""Holds (R-RET-3): footage under an open request or investigation is never purged.

Functions take the caller's session so a hold can be placed in the same transaction as the
request that needs it; each placement, narrowing and release goes into the ledger in that
transaction. A hold may be narrowed (fewer cameras, a shorter range: ``narrowed_scope``) but
never widened: more footage needs a new hold, placed and ledgered as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, exists
from sqlmodel import Session, col, select

from appliance.errors import Conflict, NotFound, ValidationFailed
from appliance.models import Camera, Hold, HoldCamera
from appliance.retention._tables import HOLD, HOLD_CAMERA, SEGMENT
from appliance.retention.policy import HoldSpan, expired_holds
from appliance.vault.events import record_event

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = [
    "HoldView",
    "active_holds",
    "get_hold",
    "held_segment_clause",
    "list_holds",
    "lock_holds",
    "narrow_hold",
    "narrowed_scope",
    "place_hold",
    "release_expired_holds",
    "release_hold",
    "set_hold_expiry",
]


@dataclass(frozen=True)
class HoldView:
    """A hold with its cameras."""

    hold: Hold
    camera_ids: tuple[str, ...]

    @property
    def active(self) -> bool:
        return self.hold.released_ms is None


def place_hold(
    ctx: AppContext,
    session: Session,
    *,
    camera_ids: Sequence[str],
    start_ms: int,
    end_ms: int,
    reason: str,
    reference: str,
    placed_by: str,
    expires_ms: int | None = None,
) -> HoldView:
    """Hold the footage of ``camera_ids`` in [start_ms, end_ms] until released (or expiry)."""
    cameras = sorted(set(camera_ids))
    if not cameras:
        raise ValidationFailed("a hold needs at least one camera")
    if end_ms < start_ms:
        raise ValidationFailed("a hold's end is before its start")
    if not reason.strip():
        raise ValidationFailed("a hold needs a reason")
    if not placed_by.strip():
        raise ValidationFailed("a hold needs the person who placed it")
    now = ctx.clock.now_ms()
    if expires_ms is not None and expires_ms <= now:
        raise ValidationFailed("a hold's expiry must be in the future")
    known = set(session.exec(select(Camera.id).where(col(Camera.id).in_(cameras))).all())
    if missing := [c for c in cameras if c not in known]:
        raise NotFound(f"unknown camera(s): {', '.join(missing)}")
    hold = Hold(
        start_ms=start_ms,
        end_ms=end_ms,
        reason=reason,
        reference=reference,
        placed_by=placed_by,
        placed_ms=now,
        expires_ms=expires_ms,
    )
    session.add(hold)
    session.flush()
    assert hold.id is not None
    for camera_id in cameras:
        session.add(HoldCamera(hold_id=hold.id, camera_id=camera_id))
    session.flush()
    record_event(
        ctx.ledger,
        session,
        "hold_placed",
        actor=placed_by,
        data={
            "cameras": cameras,
            "from_ms": start_ms,
            "to_ms": end_ms,
            "reason": reason,
            "reference": reference,
            "expires_ms": expires_ms,
        },
        ref=str(hold.id),
    )
    return HoldView(hold, tuple(cameras))


def get_hold(session: Session, hold_id: int) -> HoldView:
    hold = session.get(Hold, hold_id)
    if hold is None:
        raise NotFound(f"no hold {hold_id}")
    cameras = session.exec(select(HoldCamera.camera_id).where(HoldCamera.hold_id == hold_id)).all()
    return HoldView(hold, tuple(sorted(cameras)))


def release_hold(
    ctx: AppContext, session: Session, hold_id: int, *, released_by: str, reason: str
) -> HoldView:
    """Release a hold now; its footage follows its group's retention again."""
    view = get_hold(session, hold_id)
    hold = view.hold
    if hold.released_ms is not None:
        raise Conflict(f"hold {hold_id} was already released")
    if not reason.strip():
        raise ValidationFailed("a release needs a reason")
    hold.released_ms = ctx.clock.now_ms()
    hold.released_by = released_by
    hold.release_reason = reason
    session.add(hold)
    session.flush()
    record_event(
        ctx.ledger,
        session,
        "hold_released",
        actor=released_by,
        data={"reason": reason, "reference": hold.reference},
        ref=str(hold_id),
    )
    return view


def narrowed_scope(
    held: Sequence[str],
    held_start_ms: int,
    held_end_ms: int,
    *,
    camera_ids: Sequence[str],
    start_ms: int,
    end_ms: int,
) -> tuple[str, ...]:
    """The cameras a narrowed hold keeps (sorted); ValidationFailed unless the new scope lies
    within the held one and is smaller: narrowing never extends a hold."""
    cameras = tuple(sorted(set(camera_ids)))
    if not cameras:
        raise ValidationFailed("a narrowed hold keeps at least one camera (or release it)")
    if extra := [c for c in cameras if c not in set(held)]:
        raise ValidationFailed(
            f"narrowing cannot add cameras the hold does not cover: {', '.join(extra)}"
        )
    if end_ms < start_ms:
        raise ValidationFailed("a hold's end is before its start")
    if start_ms < held_start_ms or end_ms > held_end_ms:
        raise ValidationFailed(
            f"narrowing cannot extend the held range [{held_start_ms}, {held_end_ms}]"
        )
    if set(cameras) == set(held) and (start_ms, end_ms) == (held_start_ms, held_end_ms):
        raise ValidationFailed("the new scope is the held one: nothing to narrow")
    return cameras


def narrow_hold(
    ctx: AppContext,
    session: Session,
    hold_id: int,
    *,
    camera_ids: Sequence[str],
    start_ms: int,
    end_ms: int,
    actor: str,
    reason: str,
) -> HoldView:
    """Shrink an active hold to ``camera_ids`` in [start_ms, end_ms]; what falls outside
    follows its group's retention again (the next purge cycle may destroy it)."""
    view = get_hold(session, hold_id)
    hold = view.hold
    if hold.released_ms is not None:
        raise Conflict(f"hold {hold_id} was already released")
    if not reason.strip():
        raise ValidationFailed("narrowing a hold needs a reason")
    if not actor.strip():
        raise ValidationFailed("narrowing a hold needs the person who does it")
    cameras = narrowed_scope(
        view.camera_ids,
        hold.start_ms,
        hold.end_ms,
        camera_ids=camera_ids,
        start_ms=start_ms,
        end_ms=end_ms,
    )
    previous = {"cameras": list(view.camera_ids), "from_ms": hold.start_ms, "to_ms": hold.end_ms}
    # The hold row first: on PostgreSQL its update waits for a running purge's SHARE lock
    # (lock_holds), so a purge sees either the old scope or the new one, never a mix.
    hold.start_ms, hold.end_ms = start_ms, end_ms
    session.add(hold)
    session.flush()
    for row in session.exec(select(HoldCamera).where(HoldCamera.hold_id == hold_id)).all():
        if row.camera_id not in cameras:
            session.delete(row)
    session.flush()
    record_event(
        ctx.ledger,
        session,
        "hold_narrowed",
        actor=actor,
        data={
            "cameras": list(cameras),
            "from_ms": start_ms,
            "to_ms": end_ms,
            "reason": reason,
            "reference": hold.reference,
            "previous": previous,
        },
        ref=str(hold_id),
    )
    return HoldView(hold, cameras)


def set_hold_expiry(
    ctx: AppContext, session: Session, hold_id: int, *, expires_ms: int | None, actor: str
) -> HoldView:
    """Release the hold automatically at ``expires_ms`` (e.g. a grace after a request closes)."""
    view = get_hold(session, hold_id)
    if view.hold.released_ms is not None:
        raise Conflict(f"hold {hold_id} was already released")
    view.hold.expires_ms = expires_ms
    session.add(view.hold)
    session.flush()
    record_event(
        ctx.ledger,
        session,
        "hold_placed",
        actor=actor,
        data={
            "cameras": list(view.camera_ids),
            "from_ms": view.hold.start_ms,
            "to_ms": view.hold.end_ms,
            "reason": view.hold.reason,
            "reference": view.hold.reference,
            "expires_ms": expires_ms,
            "change": "expiry",
        },
        ref=str(hold_id),
    )
    return view


def list_holds(session: Session, *, include_released: bool = False) -> list[HoldView]:
    query = select(Hold).order_by(col(Hold.id))
    if not include_released:
        query = query.where(col(Hold.released_ms).is_(None))
    holds = session.exec(query).all()
    cameras: dict[int, list[str]] = {}
    ids = [h.id for h in holds if h.id is not None]
    if ids:
        for hold_id, camera_id in session.exec(
            select(HoldCamera.hold_id, HoldCamera.camera_id).where(col(HoldCamera.hold_id).in_(ids))
        ).all():
            cameras.setdefault(hold_id, []).append(camera_id)
    return [HoldView(h, tuple(sorted(cameras.get(h.id or 0, [])))) for h in holds]


def active_holds(session: Session) -> list[HoldSpan]:
    """Every unreleased hold as a ``HoldSpan`` for the pure decisions."""
    return [
        HoldSpan(
            hold_id=v.hold.id or 0,
            camera_ids=frozenset(v.camera_ids),
            start_ms=v.hold.start_ms,
            end_ms=v.hold.end_ms,
            expires_ms=v.hold.expires_ms,
        )
        for v in list_holds(session)
    ]


def release_expired_holds(ctx: AppContext, session: Session, actor: str) -> list[int]:
    """Release every hold whose expiry has passed; return their ids."""
    released = []
    for span in expired_holds(active_holds(session), ctx.clock.now_ms()):
        release_hold(ctx, session, span.hold_id, released_by=actor, reason="expired")
        released.append(span.hold_id)
    return released


def held_segment_clause() -> ColumnElement[bool]:
    """SQL: the ``segment`` row overlaps an unreleased hold on its camera (ends inclusive)."""
    return exists().where(
        and_(
            HOLD_CAMERA.c.camera_id == SEGMENT.c.camera_id,
            HOLD.c.id == HOLD_CAMERA.c.hold_id,
            HOLD.c.released_ms.is_(None),
            HOLD.c.start_ms <= SEGMENT.c.end_ms,
            HOLD.c.end_ms >= SEGMENT.c.start_ms,
        )
    )


def lock_holds(session: Session) -> None:
    """Block new holds until this transaction ends, so a purge cannot miss one.

    PostgreSQL: a SHARE lock on ``hold`` (placing a hold needs ROW EXCLUSIVE). SQLite has one
    writer at a time, so a purge that writes before it reads holds already excludes them.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.connection().exec_driver_sql("LOCK TABLE hold IN SHARE MODE")
