"""Recording runs, gaps and encrypted segments (the index of what is on disk).

Owned by the recorder; read by the vault, retention, playback and export.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, true
from sqlmodel import Field, SQLModel

from appliance.models._base import BIG_ID, ms_column

__all__ = ["MAX_SEGMENT_MS", "CameraStatus", "Gap", "PendingSegment", "Run", "Segment"]


# The recorder never writes a segment longer than this (it cuts at the latest here even without
# a key frame), so range queries can bound start_ms from below and use the index.
MAX_SEGMENT_MS = 3_600_000


class Run(SQLModel, table=True):
    """One RTSP session of one camera: timestamps are monotonic within it."""

    __tablename__ = "recording_run"

    id: int | None = Field(default=None, primary_key=True)
    camera_id: str = Field(foreign_key="camera.id", index=True, max_length=63)
    started_ms: int = ms_column()
    ended_ms: int | None = ms_column(nullable=True)
    codec: str = Field(default="", max_length=20)
    width: int = 0
    height: int = 0
    end_reason: str = Field(default="", max_length=200)


class Gap(SQLModel, table=True):
    """A span in which a camera recorded nothing (down, unreachable, refused ...)."""

    id: int | None = Field(default=None, primary_key=True)
    camera_id: str = Field(foreign_key="camera.id", index=True, max_length=63)
    start_ms: int = ms_column()
    end_ms: int | None = ms_column(nullable=True)  # null while the camera is still down
    reason: str = Field(default="", max_length=200)


class Segment(SQLModel, table=True):
    """One encrypted segment file: ciphertext only on disk, its key sealed to a vault key."""

    __table_args__ = (Index("ix_segment_camera_start", "camera_id", "start_ms"),)

    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    camera_id: str = Field(foreign_key="camera.id", max_length=63)
    run_id: int | None = Field(default=None, foreign_key="recording_run.id", index=True)
    start_ms: int = ms_column()
    end_ms: int = ms_column(index=True)
    path: str = Field(max_length=400, unique=True)  # relative to the segments dir
    size_bytes: int = Field(sa_type=BigInteger)
    # Of the whole ciphertext file, "<algorithm>:<hex>": "sha256:..." (segment format 2) or
    # "blake2b:..." (format 1, recorded before migration 0007).
    digest: str = Field(max_length=80)
    vault_key_id: str = Field(max_length=64, index=True)
    # The per-segment key sealed to the vault public key; nulled when crypto-shredded.
    sealed_key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    codec: str = Field(max_length=20)
    width: int
    height: int
    frames: int
    key_frames: int
    has_audio: bool = False
    created_ms: int = ms_column()
    # Where the ciphertext lives (issue 19, design/storage.md "Object store"): ``local_copy``
    # while the recording node's file exists; ``object_key`` once it is in the object store.
    local_copy: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    object_key: str | None = Field(default=None, max_length=440, index=True)
    uploaded_ms: int | None = ms_column(nullable=True)

    @property
    def location(self) -> str:
        """ "local", "object", "both", or "nowhere" (a damaged index: fsck reports it)."""
        if self.local_copy:
            return "both" if self.object_key else "local"
        return "object" if self.object_key else "nowhere"


class PendingSegment(SQLModel, table=True):
    """A segment between its file's rename and its row: lets a restart re-index it.

    Written just before the rename, deleted in the transaction that inserts the Segment row.
    The sealed key lives only in the database (never in the file) so that shredding the
    row's key is enough to make the ciphertext unreadable (invariant 4).
    """

    __tablename__ = "pending_segment"

    path: str = Field(primary_key=True, max_length=400)  # relative to the segments dir
    camera_id: str = Field(foreign_key="camera.id", index=True, max_length=63)
    run_id: int | None = Field(default=None, foreign_key="recording_run.id")
    vault_key_id: str = Field(max_length=64)
    sealed_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_ms: int = ms_column()


class CameraStatus(SQLModel, table=True):
    """What the recorder is doing with each camera, written on every change (API, metrics)."""

    __tablename__ = "camera_status"

    camera_id: str = Field(foreign_key="camera.id", primary_key=True, max_length=63)
    state: str = Field(max_length=20)  # starting, recording, reconnecting, failed, stopped
    reason: str = Field(default="", max_length=40)  # unreachable, unauthorized, no_video ...
    detail: str = Field(default="", max_length=500)  # the last error message, for the operator
    since_ms: int = ms_column()  # when this state began
    run_id: int | None = Field(default=None, foreign_key="recording_run.id")
    last_segment_end_ms: int | None = ms_column(nullable=True)
    updated_ms: int = ms_column()
