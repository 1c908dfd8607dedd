"""Bodies and responses of the mask editor's JSON routes (``api.routes.mask_pages``): the
viewing session it sees frames through, sample stills with detections, a masked preview."""

from __future__ import annotations

import base64

from pydantic import BaseModel, Field

from api.deps import CameraField
from api.schemas.requests import MAX_MS, RegionIn
from appliance.export.options import MaskingOptions, MaskMethod, MaskPlan
from appliance.requests.mask_desk import MAX_PREVIEW_S, MAX_STILLS, MaskScope, Still

__all__ = ["DetectionOut", "MaskScopeOut", "PreviewIn", "StillOut", "StillsIn"]


class MaskScopeOut(BaseModel):
    request_id: int
    camera_ids: list[str]
    start_ms: int
    end_ms: int
    viewing_id: int = Field(description="The playback session frames are seen through.")

    @classmethod
    def of(cls, scope: MaskScope) -> MaskScopeOut:
        return cls(
            request_id=scope.request_id,
            camera_ids=scope.camera_ids,
            start_ms=scope.start_ms,
            end_ms=scope.end_ms,
            viewing_id=scope.viewing_id,
        )


class _Detectors(BaseModel):
    viewing_id: int = Field(ge=1, le=2**31 - 1)
    camera_id: CameraField
    faces: bool = True
    people: bool = True


class StillsIn(_Detectors):
    count: int = Field(default=6, ge=1, le=MAX_STILLS)

    def plan(self) -> MaskPlan:
        return MaskPlan(options=MaskingOptions(faces=self.faces, people=self.people))


class DetectionOut(BaseModel):
    kind: str
    x: float
    y: float
    w: float
    h: float


class StillOut(BaseModel):
    camera_id: str
    t_ms: int
    span_start_ms: int
    span_end_ms: int
    width: int
    height: int
    image: str = Field(description="A small JPEG as a data: URL (never stored).")
    detections: list[DetectionOut]

    @classmethod
    def of(cls, still: Still) -> StillOut:
        return cls(
            camera_id=still.camera_id,
            t_ms=still.t_ms,
            span_start_ms=still.span_start_ms,
            span_end_ms=still.span_end_ms,
            width=still.width,
            height=still.height,
            image="data:image/jpeg;base64," + base64.b64encode(still.jpeg).decode("ascii"),
            detections=[
                DetectionOut(kind=d.kind.value, x=d.rect.x, y=d.rect.y, w=d.rect.w, h=d.rect.h)
                for d in still.detections
            ],
        )


class PreviewIn(_Detectors):
    start_ms: int = Field(ge=0, le=MAX_MS)
    seconds: int = Field(default=3, ge=1, le=MAX_PREVIEW_S)
    regions: list[RegionIn] = Field(default_factory=list, max_length=100)
    exemptions: list[RegionIn] = Field(default_factory=list, max_length=20)
    method: MaskMethod = MaskMethod.pixelate

    def plan(self) -> MaskPlan:
        """What the package would apply to this camera (the same filter as ``ExportIn``)."""
        mine = (None, self.camera_id)
        return MaskPlan(
            officer_regions=tuple(r.region() for r in self.regions if r.camera_id in mine),
            exemptions=tuple(r.region() for r in self.exemptions if r.camera_id in mine),
            options=MaskingOptions(faces=self.faces, people=self.people, method=self.method),
        )
