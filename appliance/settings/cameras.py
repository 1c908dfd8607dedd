"""Camera groups (retention) and cameras."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from appliance.legal_minimums import LEGAL_MINIMUMS
from appliance.settings._base import (
    FORBIDDEN_LOCATION_TYPES,
    ID_PATTERN,
    Disclosure,
    LocationType,
    _Section,
)

__all__ = ["CameraConfig", "GroupConfig"]


class GroupConfig(_Section):
    """A retention and disclosure policy shared by cameras (R-RET-2)."""

    name: Annotated[str, Field(pattern=ID_PATTERN, description="Group id used by cameras.")]
    description: str = Field(default="", description="Shown in the policy document.")
    min_days: int = Field(
        default=0, ge=0, le=3650, description="Footage younger than this is never purged."
    )
    max_days: int = Field(
        default=30, ge=1, le=3650, description="Footage is destroyed once older than this."
    )
    audio_allowed: bool = Field(
        default=False, description="Keep audio tracks (only with recorded consent, R-REC-3)."
    )
    audio_consent_ref: str = Field(
        default="", description="Reference of the recorded consent that allows audio."
    )
    disclosure: Disclosure = Field(
        default=Disclosure.standard, description="Disclosure rule (R-REQ-9 for operating rooms)."
    )
    node: str = Field(
        default="",
        pattern=r"^$|^[a-z0-9][a-z0-9_-]{0,62}$",
        description="Recorder node that records this group's cameras while it is up (several "
        "nodes only); empty: balanced over the live nodes.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> GroupConfig:
        if self.max_days < self.min_days:
            raise ValueError(
                f"max_days ({self.max_days}) is below min_days ({self.min_days}) (R-RET-2)"
            )
        if self.audio_allowed and not self.audio_consent_ref.strip():
            raise ValueError(
                "audio_allowed needs audio_consent_ref, the recorded consent (R-REC-3)"
            )
        return self


class CameraConfig(_Section):
    """One fixed camera."""

    id: Annotated[str, Field(pattern=ID_PATTERN, description="Stable id, e.g. cam01.")]
    name: str = Field(min_length=1, description="Display name, e.g. 1층 로비.")
    location: str = Field(min_length=1, description="Where it hangs and what it covers.")
    location_type: LocationType = Field(
        description="Kind of place; some are forbidden (R-REC-2), some carry a legal minimum "
        "retention the camera's group must keep (R-RET-2): "
        + ", ".join(f"{m.location_type} {m.min_days} days" for m in LEGAL_MINIMUMS.values())
        + " (sources in appliance/legal_minimums.py)."
    )
    url: str = Field(description="rtsp:// or rtsps:// URL of the camera's stream.")
    group: str = Field(description="Name of its [[groups]] entry.")
    enabled: bool = Field(default=True, description="Record this camera.")
    ingest: Literal["native", "ffmpeg"] | None = Field(
        default=None, description="Overrides [recorder] ingest for this camera (an odd camera)."
    )
    node: str = Field(
        default="",
        pattern=r"^$|^[a-z0-9][a-z0-9_-]{0,62}$",
        description="Recorder node that records this camera while it is up (overrides the "
        "group's); empty: the group's, else balanced over the live nodes.",
    )

    @field_validator("location_type")
    @classmethod
    def _allowed_place(cls, value: LocationType) -> LocationType:
        if value in FORBIDDEN_LOCATION_TYPES:
            raise ValueError(f"cameras are forbidden in a {value.value} (PIPA art. 25(2), R-REC-2)")
        return value

    @field_validator("url")
    @classmethod
    def _rtsp(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("rtsp", "rtsps"):
            raise ValueError(f"unsupported scheme {parts.scheme!r}: use rtsp:// or rtsps://")
        if not parts.hostname:
            raise ValueError("the URL has no host")
        return value
