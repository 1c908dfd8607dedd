"""Bodies of the timeline route (``api.routes.timeline``): metadata only, no video."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

__all__ = ["GapOut", "HoldOut", "Range", "Timeline"]


class Range(BaseModel):
    start_ms: int
    end_ms: int


class GapOut(Range):
    reason: str


class HoldOut(Range):
    model_config = ConfigDict(from_attributes=True)

    hold_id: int
    reason: str
    reference: str


class Timeline(BaseModel):
    camera_id: str
    day: date
    timezone: str
    from_ms: int
    to_ms: int
    recorded_ms: int
    recorded: list[Range]
    gaps: list[GapOut]
    holds: list[HoldOut]
