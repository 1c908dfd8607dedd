"""Recorder nodes and camera leases (issue 19; design/scale.md, "Recorder nodes").

``recorder_node``: one row per node id, beaten every ``node.heartbeat_s`` with what the health
page shows per node (free space, floor). ``camera_lease``: one row per camera; the holder and an
epoch that every acquisition increments (the fencing token a segment row is inserted under),
with an expiry the holder renews at each beat. Times are the database server's clock, so the
nodes' own clocks never decide who holds a camera.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from appliance.models._base import ms_column

__all__ = ["CameraLease", "RecorderNode"]


class RecorderNode(SQLModel, table=True):
    """A recorder node, registered at its start and beaten while it runs."""

    __tablename__ = "recorder_node"

    id: str = Field(primary_key=True, max_length=63)
    host: str = Field(default="", max_length=255)
    pid: int = Field(default=0)
    started_ms: int = ms_column()  # this run's registration (database clock)
    heartbeat_ms: int = ms_column()  # the last beat (database clock)
    stopped_ms: int | None = ms_column(nullable=True)  # a clean stop (leases released)
    free_bytes: int = ms_column()  # on the node's segments disk (BIGINT: terabytes)
    floor_bytes: int = ms_column()
    below_floor: bool = Field(default=False)
    live_url: str = Field(default="", max_length=500)


class CameraLease(SQLModel, table=True):
    """Who records a camera: ``node_id`` (None: free) until ``expires_ms``, under ``epoch``."""

    __tablename__ = "camera_lease"

    camera_id: str = Field(primary_key=True, max_length=63)
    node_id: str | None = Field(default=None, max_length=63, index=True)
    epoch: int = Field(default=0)
    expires_ms: int = ms_column()
    acquired_ms: int = ms_column()
