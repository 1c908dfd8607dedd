"""``/metrics`` in the Prometheus text format, built from the same ``HealthStatus`` as the
health page (so a scraper and a person see the same numbers)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from appliance.alarms import AlarmKind
from appliance.health.status import HealthStatus

__all__ = ["CONTENT_TYPE", "exposition"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(registry: CollectorRegistry, name: str, doc: str, value: float) -> None:
    Gauge(name, doc, registry=registry).set(value)


def exposition(status: HealthStatus) -> bytes:
    """The metrics of ``status`` as the Prometheus text exposition format."""
    registry = CollectorRegistry()
    now = status.now_ms
    _gauge(registry, "appliance_cameras_total", "Configured cameras.", len(status.cameras))
    _gauge(registry, "appliance_cameras_up", "Cameras recording now.", status.cameras_recording)
    _gauge(
        registry,
        "appliance_cameras_down",
        "Cameras not recording for longer than alarms.camera_down_after_s.",
        len(status.cameras_down),
    )
    labels = ["camera"]
    up = Gauge("appliance_camera_up", "1 while the camera records.", labels, registry=registry)
    lag = Gauge(
        "appliance_camera_recording_lag_seconds",
        "Seconds since the camera's newest segment ended.",
        labels,
        registry=registry,
    )
    bitrate = Gauge(
        "appliance_camera_bitrate_bps", "Bitrate now (bits per second).", labels, registry=registry
    )
    dropped = Gauge(
        "appliance_camera_frames_dropped_today",
        "Frames dropped by ingest today (site time).",
        labels,
        registry=registry,
    )
    for camera in status.cameras:
        up.labels(camera.id).set(1 if camera.state == "recording" else 0)
        since = camera.since_last_segment_s(now)
        if since is not None:
            lag.labels(camera.id).set(since)
        bitrate.labels(camera.id).set(camera.bitrate_bps or 0)
        dropped.labels(camera.id).set(camera.frames_dropped_today)
    storage = status.storage
    _gauge(
        registry, "appliance_disk_free_bytes", "Free bytes on the footage disk.", storage.free_bytes
    )
    _gauge(registry, "appliance_stored_bytes", "Bytes of footage stored.", storage.stored_bytes)
    _gauge(
        registry,
        "appliance_bytes_written_24h",
        "Bytes of footage written in the last 24 hours.",
        status.bytes_last_24h,
    )
    _gauge(
        registry,
        "appliance_bytes_per_day",
        "Bytes a day at the current bitrates.",
        storage.bytes_per_day,
    )
    _gauge(
        registry,
        "appliance_storage_days_fit",
        "Days of footage the disk holds at the current rate (-1: nothing recording).",
        -1 if storage.days_fit is None else storage.days_fit,
    )
    _gauge(
        registry,
        "appliance_purge_lag_seconds",
        "How long the oldest expired, unheld segment has waited past its expiry.",
        storage.purge_lag_ms / 1000,
    )
    _gauge(registry, "appliance_holds_active", "Holds not released.", storage.holds_active)
    _gauge(registry, "appliance_requests_due_soon", "Requests due soon.", status.requests_due_soon)
    _gauge(registry, "appliance_requests_overdue", "Requests overdue.", status.requests_overdue)
    head_age = status.ledger.head_age_s(now)
    _gauge(
        registry,
        "appliance_ledger_head_age_seconds",
        "Age of the latest signed ledger head (-1: none yet).",
        -1 if head_age is None else head_age,
    )
    _gauge(
        registry,
        "appliance_ledger_verified_ok",
        "1 if the last ledger verification passed, 0 if it failed, -1 if none ran yet.",
        -1 if status.ledger.verified_ok is None else int(status.ledger.verified_ok),
    )
    _gauge(
        registry,
        "appliance_failed_logins_24h",
        "Failed sign-ins in the last 24 hours.",
        status.failed_logins_24h,
    )
    _gauge(
        registry,
        "appliance_vault_unlocked",
        "1 while the vault is unlocked.",
        int(status.vault.unlocked),
    )
    _nodes(registry, status)
    alarms = Gauge("appliance_alarms_open", "Open alarms by kind.", ["kind"], registry=registry)
    for kind in AlarmKind:
        alarms.labels(kind.value).set(sum(1 for a in status.alarms if a.kind == kind.value))
    _gauge(
        registry,
        "appliance_alarm_deliveries_failing",
        "Alarm deliveries retrying or given up.",
        len(status.deliveries),
    )
    return generate_latest(registry)


def _nodes(registry: CollectorRegistry, status: HealthStatus) -> None:
    """Per recorder node (several-node sites; none on a single box)."""
    node = ["node"]
    beat = Gauge("appliance_node_heartbeat_age_seconds", "Since the node's last heartbeat.", node,
                 registry=registry)  # fmt: skip
    held = Gauge("appliance_node_cameras_held", "Cameras whose lease the node holds.", node,
                 registry=registry)  # fmt: skip
    free = Gauge("appliance_node_disk_free_bytes", "Free bytes on the node's segments disk.",
                 node, registry=registry)  # fmt: skip
    floor = Gauge("appliance_node_disk_floor_bytes", "The node's free-space floor.", node,
                  registry=registry)  # fmt: skip
    for info in status.nodes:
        beat.labels(info.id).set(info.heartbeat_age_ms / 1000)
        held.labels(info.id).set(info.cameras_held)
        free.labels(info.id).set(info.free_bytes)
        floor.labels(info.id).set(info.floor_bytes)
