"""The appliance's health in one value (``HealthStatus``), computed from the database, the
disk, the recorder nodes, the vault and the ledger: what the health page,
``/api/health/status`` and ``/metrics`` all show, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session, col

from appliance.alarms import AlarmKind
from appliance.context import AppContext
from appliance.health.alarm_views import AlarmView, alarm_views
from appliance.health.cameras import CameraHealth, camera_health, is_down
from appliance.health.nodes import node_health
from appliance.health.storage import StorageHealth, storage_health
from appliance.health.verification import last_verification
from appliance.ledger.events import EventType
from appliance.models import LedgerEntry, Segment
from appliance.models.health import AlarmDelivery
from appliance.nodes import NodeInfo

__all__ = [
    "DeliveryHealth",
    "HealthStatus",
    "LedgerHealth",
    "VaultHealth",
    "health_status",
]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class VaultHealth:
    unlocked: bool
    has_passphrase: bool


@dataclass(frozen=True)
class LedgerHealth:
    tip_seq: int
    head_seq: int | None
    head_signed_ms: int | None
    verified_ms: int | None
    verified_ok: bool | None
    verified_summary: str

    def head_age_s(self, now_ms: int) -> float | None:
        return None if self.head_signed_ms is None else (now_ms - self.head_signed_ms) / 1000


@dataclass(frozen=True)
class DeliveryHealth:
    """A delivery of an alarm to people that has not (yet) succeeded."""

    id: int
    alarm_id: int
    channel: str
    target: str
    attempts: int
    next_ms: int
    failed_ms: int | None
    last_error: str


@dataclass(frozen=True)
class HealthStatus:
    now_ms: int
    cameras: list[CameraHealth]
    cameras_down: list[str]  # ids, by the camera_down rule (see cameras.is_down)
    storage: StorageHealth
    nodes: list[NodeInfo]  # recorder nodes (several-node sites only)
    vault: VaultHealth
    ledger: LedgerHealth
    alarms: list[AlarmView]
    deliveries: list[DeliveryHealth]  # pending retries and given-up deliveries
    requests_due_soon: int
    requests_overdue: int
    failed_logins_24h: int
    bytes_last_24h: int

    @property
    def cameras_recording(self) -> int:
        return sum(1 for c in self.cameras if c.state == "recording")


def _ledger(ctx: AppContext, session: Session) -> LedgerHealth:
    head = ctx.ledger.latest_head()
    verified = last_verification(session)
    return LedgerHealth(
        tip_seq=ctx.ledger.tip().seq,
        head_seq=head.seq if head else None,
        head_signed_ms=head.signed_ms if head else None,
        verified_ms=verified.verified_ms if verified else None,
        verified_ok=verified.ok if verified else None,
        verified_summary=verified.summary if verified else "",
    )


def _deliveries(session: Session) -> list[DeliveryHealth]:
    rows = session.execute(
        select(AlarmDelivery)
        .where(col(AlarmDelivery.delivered_ms).is_(None), col(AlarmDelivery.attempts) > 0)
        .order_by(col(AlarmDelivery.id).desc())
        .limit(50)
    ).scalars()
    return [
        DeliveryHealth(
            id=r.id or 0,
            alarm_id=r.alarm_id,
            channel=r.channel,
            target=r.target,
            attempts=r.attempts,
            next_ms=r.next_ms,
            failed_ms=r.failed_ms,
            last_error=r.last_error,
        )
        for r in rows
    ]


def _count_events(session: Session, event: EventType, since_ms: int) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(LedgerEntry)
            .where(col(LedgerEntry.event) == event.value, col(LedgerEntry.ts_ms) >= since_ms)
        ).scalar_one()
    )


def _bytes_since(session: Session, since_ms: int) -> int:
    return int(
        session.execute(
            select(func.coalesce(func.sum(Segment.size_bytes), 0)).where(
                col(Segment.created_ms) >= since_ms
            )
        ).scalar_one()
    )


def health_status(ctx: AppContext) -> HealthStatus:
    """Everything the health page shows, at ``ctx.clock.now_ms()``."""
    now = ctx.clock.now_ms()
    settings = ctx.settings
    down_after_ms = settings.alarms.camera_down_after_s * 1000
    segment_ms = settings.recorder.segment_target_s * 1000
    with ctx.db.session() as session:
        cameras = camera_health(session, settings, now)
        storage = storage_health(
            session, settings, now, (c.bitrate_bps for c in cameras if c.bitrate_bps)
        )
        alarms = alarm_views(session)
        open_kinds = [a.kind for a in alarms]
        return HealthStatus(
            now_ms=now,
            cameras=cameras,
            cameras_down=[c.id for c in cameras if is_down(c, now, down_after_ms, segment_ms)],
            storage=storage,
            nodes=node_health(session, settings),
            vault=VaultHealth(ctx.vault.is_unlocked, ctx.vault.has_passphrase),
            ledger=_ledger(ctx, session),
            alarms=alarms,
            deliveries=_deliveries(session),
            requests_due_soon=open_kinds.count(AlarmKind.request_due_soon.value),
            requests_overdue=open_kinds.count(AlarmKind.request_overdue.value),
            failed_logins_24h=_count_events(session, EventType.login_failure, now - _DAY_MS),
            bytes_last_24h=_bytes_since(session, now - _DAY_MS),
        )
