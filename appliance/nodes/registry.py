"""A recorder node's row: registered at start, beaten with its disk figures, stopped cleanly.

A node is *live* while its last beat is younger than the lease time to live (on the database
clock), the same bound after which its leases are free: the rest of the cluster decides that a
node is gone exactly when its cameras may be taken.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from appliance.models.nodes import CameraLease, RecorderNode
from appliance.nodes.dbtime import db_now_ms

__all__ = ["NodeInfo", "beat", "deregister", "list_nodes", "live_location", "register"]


@dataclass(frozen=True)
class NodeInfo:
    """A node as the cluster and the health page see it."""

    id: str
    host: str
    started_ms: int
    up_ms: int  # since this run registered
    heartbeat_age_ms: int
    stopped: bool
    live: bool
    cameras_held: int
    free_bytes: int
    floor_bytes: int
    below_floor: bool
    live_url: str


def register(session: Session, node_id: str, *, live_url: str, floor_bytes: int) -> int:
    """Create or restart the node's row; returns the registration time (database clock)."""
    now = db_now_ms(session)
    node = session.get(RecorderNode, node_id, with_for_update=True)
    if node is None:
        node = RecorderNode(id=node_id, started_ms=now, heartbeat_ms=now, free_bytes=0,
                            floor_bytes=floor_bytes)  # fmt: skip
    node.host, node.pid, node.live_url = socket.gethostname(), os.getpid(), live_url
    node.started_ms, node.heartbeat_ms, node.stopped_ms = now, now, None
    node.floor_bytes = floor_bytes
    session.add(node)
    return now


def beat(session: Session, node_id: str, *, free_bytes: int, below_floor: bool) -> int:
    """The heartbeat; returns its time (database clock)."""
    now = db_now_ms(session)
    node = session.get(RecorderNode, node_id)
    if node is not None:
        node.heartbeat_ms, node.free_bytes, node.below_floor = now, free_bytes, below_floor
        node.stopped_ms = None
        session.add(node)
    return now


def deregister(session: Session, node_id: str) -> None:
    """A clean stop: not live any more, at once (its leases were released one by one)."""
    node = session.get(RecorderNode, node_id)
    if node is not None:
        node.stopped_ms = db_now_ms(session)
        session.add(node)


def list_nodes(session: Session, ttl_ms: int) -> list[NodeInfo]:
    """Every registered node, live ones being those beaten within ``ttl_ms``."""
    now = db_now_ms(session)
    held = dict(
        session.execute(
            select(CameraLease.node_id, func.count())
            .where(col(CameraLease.node_id).is_not(None), col(CameraLease.expires_ms) > now)
            .group_by(col(CameraLease.node_id))
        ).all()
    )
    out = []
    for node in session.exec(select(RecorderNode).order_by(col(RecorderNode.id))).all():
        age = max(0, now - node.heartbeat_ms)
        stopped = node.stopped_ms is not None
        out.append(
            NodeInfo(
                id=node.id,
                host=node.host,
                started_ms=node.started_ms,
                up_ms=max(0, now - node.started_ms),
                heartbeat_age_ms=age,
                stopped=stopped,
                live=not stopped and age < ttl_ms,
                cameras_held=int(held.get(node.id, 0)),
                free_bytes=node.free_bytes,
                floor_bytes=node.floor_bytes,
                below_floor=node.below_floor,
                live_url=node.live_url,
            )
        )
    return out


def live_location(session: Session, camera_id: str) -> tuple[str, str] | None:
    """(node id, its live_url) of the node whose unexpired lease records ``camera_id``."""
    now = db_now_ms(session)
    row = session.execute(
        select(RecorderNode.id, RecorderNode.live_url)
        .join(CameraLease, col(CameraLease.node_id) == col(RecorderNode.id))
        .where(col(CameraLease.camera_id) == camera_id, col(CameraLease.expires_ms) > now)
    ).first()
    return None if row is None else (str(row[0]), str(row[1]))
