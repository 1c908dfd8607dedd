"""Bodies of the camera routes (``api.routes.cameras``)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from appliance.models import Camera

__all__ = ["CameraOut", "camera_out"]


class CameraOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    location: str
    location_type: str
    group: str = Field(validation_alias=AliasChoices("group", "group_name"))
    enabled: bool
    in_config: bool = Field(description="False once removed from the configuration.")
    viewable: bool = Field(description="Whether you may open a viewing session on it.")


@dataclass(frozen=True)
class _Seen:
    """A camera as one principal sees it: its row's attributes plus ``viewable``."""

    camera: Camera
    viewable: bool

    def __getattr__(self, name: str) -> object:
        return getattr(self.camera, name)


def camera_out(camera: Camera, viewable: bool) -> CameraOut:
    return CameraOut.model_validate(_Seen(camera, viewable))
