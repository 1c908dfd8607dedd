"""Mirror the configured cameras into the database (footage of removed cameras stays named)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from appliance.clock import Clock
from appliance.models import Camera
from appliance.settings import Settings

__all__ = ["CameraSync", "sync_cameras"]


@dataclass
class CameraSync:
    """What a sync changed, for the ledger's configuration-change entry."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def sync_cameras(session: Session, settings: Settings, clock: Clock) -> CameraSync:
    now = clock.now_ms()
    result = CameraSync()
    existing = {c.id: c for c in session.exec(select(Camera)).all()}
    for cam in settings.cameras:
        values: dict[str, object] = {
            "name": cam.name,
            "location": cam.location,
            "location_type": cam.location_type.value,
            "group_name": cam.group,
            "enabled": cam.enabled,
            "in_config": True,
        }
        row = existing.pop(cam.id, None)
        if row is None:
            session.add(
                Camera.model_validate(
                    {"id": cam.id, "created_ms": now, "updated_ms": now, **values}
                )
            )
            result.added.append(cam.id)
        elif any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_ms = now
            session.add(row)
            result.changed.append(cam.id)
    for row in existing.values():
        if row.in_config:
            row.in_config = False
            row.enabled = False
            row.updated_ms = now
            session.add(row)
            result.removed.append(row.id)
    session.flush()
    return result
