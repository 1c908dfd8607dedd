"""Camera leases: one row per camera, taken with a conditional UPDATE, fenced by an epoch.

Why a lease row and not PostgreSQL advisory locks: an advisory lock belongs to a database
*connection*, so a node must pin one connection per camera (or one for all) outside the pool,
and it is released only when the server notices that connection is gone, which for a node
whose machine froze or whose network dropped is TCP keepalive time, not a bound we set. It also
carries no number a later writer could be checked against. A row with holder, expiry and epoch
is visible (the health page reads it), expires on the database clock after ``lease_ttl_s``
whatever happened to the node, works unchanged on SQLite, and its epoch is a fencing token: the
segment row is inserted only in a transaction that finds the lease still at the writer's epoch
(``check_fence``), so a node that lost its camera cannot index one more segment of it.

Taking a lease reads the row ``FOR UPDATE`` (PostgreSQL; SQLite's single writer serialises the
same way) and updates it only where the epoch is still the one read, so two nodes trying at once
get exactly one winner.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from appliance.errors import ApplianceError
from appliance.models.nodes import CameraLease
from appliance.nodes.dbtime import db_now_ms

__all__ = [
    "Grant",
    "How",
    "LeaseLost",
    "acquire",
    "check_fence",
    "ensure_leases",
    "release",
    "renew",
]


class LeaseLost(ApplianceError):
    """The camera's lease is no longer this node's at this epoch: stop writing it."""


class How(StrEnum):
    """How a lease came to this node."""

    new = "new"  # never held before
    resumed = "resumed"  # it was this node's own (a restart within the time to live, or a
    # lease this node let expire and nobody took)
    handover = "handover"  # another node released it cleanly (finished and indexed first)
    takeover = "takeover"  # another node let it expire: it died or lost the database


@dataclass(frozen=True)
class Grant:
    """A lease this node took: record ``camera_id`` under ``epoch``; ``previous`` is the node
    that held it before (None if none)."""

    camera_id: str
    epoch: int
    previous: str | None
    how: How
    acquired_ms: int


def ensure_leases(session: Session, camera_ids: Iterable[str]) -> None:
    """A (free) lease row for every camera that has none yet."""
    have = set(session.exec(select(CameraLease.camera_id)).all())
    for camera_id in camera_ids:
        if camera_id in have:
            continue
        try:
            with session.begin_nested():
                session.add(CameraLease(camera_id=camera_id, expires_ms=0, acquired_ms=0))
        except IntegrityError:
            pass  # another node inserted it at the same moment


def acquire(session: Session, camera_id: str, node_id: str, ttl_ms: int) -> Grant | None:
    """Take the camera's lease if it is free, expired or already this node's; else None."""
    now = db_now_ms(session)
    lease = session.exec(
        select(CameraLease).where(col(CameraLease.camera_id) == camera_id).with_for_update()
    ).first()
    if lease is None:
        return None
    holder, expired = lease.node_id, lease.expires_ms <= now
    if holder is not None and holder != node_id and not expired:
        return None
    if holder is None:
        how = How.new
    elif holder == node_id:
        how = How.resumed
    else:  # a released lease keeps its last holder with expires_ms 0
        how = How.handover if lease.expires_ms == 0 else How.takeover
    taken = session.execute(
        update(CameraLease)
        .where(col(CameraLease.camera_id) == camera_id, col(CameraLease.epoch) == lease.epoch)
        .values(node_id=node_id, epoch=lease.epoch + 1, expires_ms=now + ttl_ms, acquired_ms=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return Grant(camera_id, lease.epoch + 1, holder, how, now)


def renew(session: Session, node_id: str, held: dict[str, int], ttl_ms: int) -> set[str]:
    """Extend every lease in ``held`` (camera -> epoch) that is still this node's at that
    epoch; returns the cameras whose lease was lost (taken by another node since)."""
    if not held:
        return set()
    now = db_now_ms(session)
    session.execute(
        update(CameraLease)
        .where(
            col(CameraLease.node_id) == node_id,
            col(CameraLease.camera_id).in_(list(held)),
            col(CameraLease.expires_ms) > 0,  # released meanwhile: never revived
        )
        .values(expires_ms=now + ttl_ms)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(CameraLease.camera_id, CameraLease.epoch).where(
            col(CameraLease.node_id) == node_id, col(CameraLease.camera_id).in_(list(held))
        )
    ).all()
    still = {str(camera): int(epoch) for camera, epoch in rows}
    return {camera for camera, epoch in held.items() if still.get(camera) != epoch}


def release(session: Session, camera_id: str, node_id: str, epoch: int) -> bool:
    """Hand the lease back (free at once) if it is still this node's at ``epoch``. The row
    keeps its holder with ``expires_ms`` 0: the next node knows the move was clean."""
    done = session.execute(
        update(CameraLease)
        .where(
            col(CameraLease.camera_id) == camera_id,
            col(CameraLease.node_id) == node_id,
            col(CameraLease.epoch) == epoch,
        )
        .values(expires_ms=0)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def check_fence(session: Session, camera_id: str, node_id: str, epoch: int) -> None:
    """In the transaction that inserts a segment row: the lease must still be this node's at
    ``epoch`` (locked until the commit, so a takeover is ordered after this insert), else
    LeaseLost. An expired lease nobody took is still exclusive, so expiry alone is not loss."""
    lease = session.exec(
        select(CameraLease).where(col(CameraLease.camera_id) == camera_id).with_for_update()
    ).first()
    if lease is None or lease.node_id != node_id or lease.epoch != epoch:
        holder = "nobody" if lease is None or lease.node_id is None else lease.node_id
        raise LeaseLost(
            f"camera {camera_id}: lease epoch {epoch} of {node_id} is gone "
            f"(now {holder}, epoch {lease.epoch if lease else 0})"
        )
