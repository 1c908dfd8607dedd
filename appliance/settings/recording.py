"""The configuration sections of a recording node: camera ingest (recorder) and its place among
several recorder nodes (node)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from appliance.settings._base import _Section

__all__ = ["NodeConfig", "RecorderConfig"]


class RecorderConfig(_Section):
    """Camera ingest."""

    segment_target_s: int = Field(
        default=60, ge=2, le=600, description="Cut a segment at the first key frame after this."
    )
    rtsp_timeout_s: float = Field(default=5.0, gt=0, description="Socket timeout per camera.")
    reconnect_max_backoff_s: float = Field(
        default=2.0, gt=0, le=60, description="Cap of the reconnect backoff."
    )
    ingest: Literal["native", "ffmpeg"] = Field(
        default="native",
        description="How cameras are read: native (the appliance's own RTSP/TCP client, "
        "H.264/H.265 video, at under half the CPU) or ffmpeg (FFmpeg's RTSP demuxer through "
        "PyAV). Cameras whose group stores audio, and rtsps:// cameras, always use ffmpeg.",
    )
    stall_after_s: float = Field(
        default=120.0,
        ge=5,
        le=3600,
        description="A camera worker or the segment indexer that shows no progress for this "
        "long (stuck in a call, not merely a camera that is away) counts as hung: under systemd "
        "the watchdog is no longer pinged and the service is restarted (deploy/systemd/).",
    )
    disk_floor_bytes: int = Field(
        default=2 * 1024**3,
        ge=0,
        description="The recorder's own free-space floor on its segments disk: below it no new "
        "segment is written (local copies already uploaded are dropped first; then the "
        "recorder_disk_floor alarm and a gap), whatever else runs on the box. Recording resumes "
        "above floor + disk_resume_margin_bytes.",
    )
    disk_resume_margin_bytes: int = Field(
        default=512 * 1024**2, ge=0, description="Hysteresis above the floor before resuming."
    )


class NodeConfig(_Section):
    """This process as one recorder node of several (design/scale.md); no id: a single box.

    A single box records every enabled camera with no leases."""

    id: str = Field(
        default="",
        pattern=r"^$|^[a-z0-9][a-z0-9_-]{0,62}$",
        description="Node id, e.g. rec-a. Set it on every recorder node sharing one PostgreSQL "
        "database; cameras then go to nodes by lease (cameras[].node or groups[].node, "
        "otherwise balanced).",
    )
    heartbeat_s: float = Field(
        default=3.0, gt=0, le=30, description="How often the node beats and renews its leases."
    )
    lease_ttl_s: float = Field(
        default=15.0,
        gt=0,
        le=120,
        description="A lease not renewed for this long is free: a dead node's cameras are "
        "recording elsewhere within about lease_ttl_s + heartbeat_s + one reconnect.",
    )
    handback_after_s: float = Field(
        default=10.0,
        ge=0,
        description="A returning node gets its configured (or balanced) cameras back only once "
        "it has beaten for this long; the holder then finishes the segment and releases.",
    )
    live_url: str = Field(
        default="",
        description="Where this node serves live view (its web daemon), shown to the API node "
        "that must send a viewer there, e.g. https://rec-a.clinic.lan:8443.",
    )

    @model_validator(mode="after")
    def _timing(self) -> NodeConfig:
        if self.lease_ttl_s < 2 * self.heartbeat_s:
            raise ValueError("lease_ttl_s must be at least twice heartbeat_s")
        return self
