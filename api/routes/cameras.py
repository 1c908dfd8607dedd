"""Cameras as configured, limited to what the principal may see (grants, R-SEC-2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import AccessDep, CameraId, require
from api.schemas.cameras import CameraOut, camera_out
from appliance.access import Permission, Principal
from appliance.errors import NotFound

__all__ = ["router"]

router = APIRouter(prefix="/api/cameras", tags=["cameras"])

_Reader = Annotated[Principal, Depends(require(Permission.read_timeline))]


@router.get("", response_model=list[CameraOut])
def list_cameras(principal: _Reader, access: AccessDep) -> list[CameraOut]:
    """The cameras you may see (a viewer: only those granted)."""
    return [camera_out(camera, viewable) for camera, viewable in access.cameras_for(principal)]


@router.get("/{camera_id}", response_model=CameraOut)
def get_camera(camera_id: CameraId, principal: _Reader, access: AccessDep) -> CameraOut:
    # Invisible and missing look the same, so a viewer cannot probe for camera ids.
    for camera, viewable in access.cameras_for(principal):
        if camera.id == camera_id:
            return camera_out(camera, viewable)
    raise NotFound(f"no camera {camera_id!r}")
