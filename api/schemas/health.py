"""The health page's JSON (``GET /api/health/status``) and the alarms in the header: what
``appliance.health.health_status`` computed, as response bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field

from appliance.health import AlarmView, HealthStatus
from appliance.health.alarm_views import NOTE_MAX

__all__ = [
    "AcknowledgeIn",
    "AlarmOut",
    "AlarmsOut",
    "CameraOut",
    "DeliveryOut",
    "GroupOut",
    "HealthOut",
    "LedgerOut",
    "NodeOut",
    "StorageOut",
    "VaultOut",
    "alarm_out",
    "health_out",
]


class CameraOut(BaseModel):
    id: str
    name: str
    location: str
    group: str
    state: str
    reason: str
    detail: str
    since_ms: int | None
    last_segment_end_ms: int | None
    since_last_segment_s: float | None
    bitrate_bps: float | None
    fps: float | None
    frames_dropped_today: int
    codec: str
    ingest: str
    down: bool  # not recording for longer than alarms.camera_down_after_s


class GroupOut(BaseModel):
    name: str
    min_days: int
    max_days: int
    oldest_ms: int | None
    oldest_age_days: float | None
    over_retention: bool


class StorageOut(BaseModel):
    total_bytes: int
    free_bytes: int
    stored_bytes: int
    min_free_bytes: int
    bytes_per_day: float
    days_fit: float | None
    purge_lag_s: float
    holds_active: int
    groups: list[GroupOut]
    recorder_floor_bytes: int


class NodeOut(BaseModel):
    """A recorder node (several-node sites): heartbeat, cameras held, its disk and floor."""

    id: str
    host: str
    live: bool
    stopped: bool
    heartbeat_age_s: float
    up_s: float
    cameras_held: int
    free_bytes: int
    floor_bytes: int
    below_floor: bool
    live_url: str


class VaultOut(BaseModel):
    unlocked: bool
    has_passphrase: bool


class LedgerOut(BaseModel):
    tip_seq: int
    head_seq: int | None
    head_signed_ms: int | None
    head_age_s: float | None
    verified_ms: int | None
    verified_ok: bool | None
    verified_summary: str


class AlarmOut(BaseModel):
    id: int
    kind: str
    subject: str
    message: str
    raised_ms: int
    last_ms: int
    acknowledged_by: str
    acknowledged_ms: int | None
    note: str


class DeliveryOut(BaseModel):
    id: int
    alarm_id: int
    channel: str
    target: str
    attempts: int
    next_ms: int
    failed_ms: int | None
    last_error: str


class HealthOut(BaseModel):
    now_ms: int
    cameras: list[CameraOut]
    cameras_total: int
    cameras_recording: int
    cameras_down: list[str]
    storage: StorageOut
    nodes: list[NodeOut]
    vault: VaultOut
    ledger: LedgerOut
    alarms: list[AlarmOut]
    deliveries: list[DeliveryOut]
    requests_due_soon: int
    requests_overdue: int
    failed_logins_24h: int
    bytes_last_24h: int
    can_acknowledge: bool


class AlarmsOut(BaseModel):
    """The header's view: the open alarms, for the roles that act on them."""

    alarms: list[AlarmOut]


class AcknowledgeIn(BaseModel):
    note: str = Field(min_length=1, max_length=NOTE_MAX)


def alarm_out(alarm: AlarmView) -> AlarmOut:
    return AlarmOut(**alarm.__dict__)


def health_out(status: HealthStatus, *, can_acknowledge: bool) -> HealthOut:
    now = status.now_ms
    storage = status.storage
    down = set(status.cameras_down)
    return HealthOut(
        now_ms=now,
        cameras=[
            CameraOut(
                **{k: v for k, v in c.__dict__.items() if k not in ("enabled",)},
                since_last_segment_s=c.since_last_segment_s(now),
                down=c.id in down,
            )
            for c in status.cameras
        ],
        cameras_total=len(status.cameras),
        cameras_recording=status.cameras_recording,
        cameras_down=status.cameras_down,
        storage=StorageOut(
            total_bytes=storage.total_bytes,
            free_bytes=storage.free_bytes,
            stored_bytes=storage.stored_bytes,
            min_free_bytes=storage.min_free_bytes,
            bytes_per_day=storage.bytes_per_day,
            days_fit=storage.days_fit,
            purge_lag_s=storage.purge_lag_ms / 1000,
            holds_active=storage.holds_active,
            groups=[
                GroupOut(
                    name=g.name,
                    min_days=g.min_days,
                    max_days=g.max_days,
                    oldest_ms=g.oldest_ms,
                    oldest_age_days=g.age_days(now),
                    over_retention=g.over_retention(now),
                )
                for g in storage.groups
            ],
            recorder_floor_bytes=storage.recorder_floor_bytes,
        ),
        nodes=[
            NodeOut(
                id=n.id,
                host=n.host,
                live=n.live,
                stopped=n.stopped,
                heartbeat_age_s=n.heartbeat_age_ms / 1000,
                up_s=n.up_ms / 1000,
                cameras_held=n.cameras_held,
                free_bytes=n.free_bytes,
                floor_bytes=n.floor_bytes,
                below_floor=n.below_floor,
                live_url=n.live_url,
            )
            for n in status.nodes
        ],
        vault=VaultOut(**status.vault.__dict__),
        ledger=LedgerOut(**status.ledger.__dict__, head_age_s=status.ledger.head_age_s(now)),
        alarms=[alarm_out(a) for a in status.alarms],
        deliveries=[DeliveryOut(**d.__dict__) for d in status.deliveries],
        requests_due_soon=status.requests_due_soon,
        requests_overdue=status.requests_overdue,
        failed_logins_24h=status.failed_logins_24h,
        bytes_last_24h=status.bytes_last_24h,
        can_acknowledge=can_acknowledge,
    )
