"""Cameras as configured, limited to what the principal may see (grants, R-SEC-2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from api.deps import AccessDep
from api.security import require
from appliance.access import Permission, Principal, roles_with
from appliance.errors import NotFound
from appliance.models import Camera

router = APIRouter(prefix="/api/cameras", tags=["cameras"])

_Reader = Annotated[Principal, Depends(require(*roles_with(Permission.read_timeline)))]
CameraId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class CameraOut(BaseModel):
    id: str
    name: str
    location: str
    location_type: str
    group: str
    enabled: bool
    in_config: bool = Field(description="False once removed from the configuration.")
    viewable: bool = Field(description="Whether you may open a viewing session on it.")


def _out(camera: Camera, viewable: bool) -> CameraOut:
    return CameraOut(
        id=camera.id,
        name=camera.name,
        location=camera.location,
        location_type=camera.location_type,
        group=camera.group_name,
        enabled=camera.enabled,
        in_config=camera.in_config,
        viewable=viewable,
    )


@router.get("", response_model=list[CameraOut])
def list_cameras(principal: _Reader, access: AccessDep) -> list[CameraOut]:
    """The cameras you may see (a viewer: only those granted)."""
    return [_out(camera, viewable) for camera, viewable in access.cameras_for(principal)]


@router.get("/{camera_id}", response_model=CameraOut)
def get_camera(camera_id: CameraId, principal: _Reader, access: AccessDep) -> CameraOut:
    # Invisible and missing look the same, so a viewer cannot probe for camera ids.
    for camera, viewable in access.cameras_for(principal):
        if camera.id == camera_id:
            return _out(camera, viewable)
    raise NotFound(f"no camera {camera_id!r}")
