"""The health JSON, the header alarms and acknowledging (ledgered), and /metrics (token or
loopback only) agreeing with /api/health/status."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select

from api.security import RoleGuard, routes_of
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.health.daemon import HealthDaemon
from appliance.models import LedgerEntry, Role
from appliance.models.media import CameraStatus
from appliance.settings import Settings
from tests.support.config import SettingsFactory
from tests.support.segments import make_segments
from tests.support.users import Login, Staff

TOKEN = "s3cret-metrics-token-0123456789"


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(alarms={"camera_down_after_s": 60}, metrics={"token": TOKEN})


def _status(ctx: AppContext, camera_id: str, state: str, since_ms: int) -> None:
    with ctx.db.session() as session:
        row = session.get(CameraStatus, camera_id) or CameraStatus(
            camera_id=camera_id, state=state, since_ms=since_ms, updated_ms=since_ms
        )
        row.state, row.since_ms, row.reason = (
            state,
            since_ms,
            ("" if state == "recording" else "unreachable"),
        )
        session.add(row)


def test_status_is_for_admin_officer_and_auditor_only(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login, anonymous: TestClient
) -> None:
    now = clock.now_ms()
    make_segments(ctx, "cam01", [now - 120_000, now - 60_000], length_ms=60_000, size_bytes=7500)
    _status(ctx, "cam01", "recording", now - 120_000)
    _status(ctx, "cam02", "reconnecting", now - 5000)
    body = login("admin1").get("/api/health/status").json()
    cams = {c["id"]: c for c in body["cameras"]}
    assert body["cameras_total"] == 3 and body["cameras_recording"] == 1
    assert cams["cam01"]["bitrate_bps"] == 1000.0 and cams["cam01"]["fps"] == 25.0
    assert cams["cam01"]["since_last_segment_s"] == 0.0 and cams["cam01"]["ingest"] == "native"
    assert cams["cam02"]["state"] == "reconnecting" and cams["cam02"]["reason"] == "unreachable"
    assert cams["cam03"]["state"] == "unknown"
    assert body["vault"]["unlocked"] is True and body["can_acknowledge"] is True
    assert body["storage"]["free_bytes"] > 0 and body["storage"]["days_fit"] is not None
    auditor = login("auditor1").get("/api/health/status")
    assert auditor.status_code == 200 and auditor.json()["can_acknowledge"] is False
    assert login("officer1").get("/api/health/status").status_code == 200
    assert login("viewer1").get("/api/health/status").status_code == 403
    assert anonymous.get("/api/health/status").status_code == 401
    bearer = {"Authorization": f"Bearer {staff.agency_token}"}
    assert anonymous.get("/api/health/status", headers=bearer).status_code == 403


def test_camera_down_is_raised_acknowledged_in_the_ledger_and_cleared(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    _status(ctx, "cam02", "reconnecting", clock.now_ms())
    daemon = HealthDaemon(ctx)
    daemon.check()
    admin = login("admin1")

    def kinds() -> list[str]:
        return [a["kind"] for a in admin.get("/api/alarms").json()["alarms"]]

    assert "camera_down" not in kinds()
    clock.advance(timedelta(seconds=61))
    daemon.check()
    alarms = admin.get("/api/alarms").json()["alarms"]
    down = next(a for a in alarms if a["kind"] == "camera_down")
    assert down["subject"] == "camera:cam02" and down["acknowledged_by"] == ""
    assert login("auditor1").get("/api/alarms").status_code == 403  # reads the page, acts not
    refused = login("auditor1").post(
        f"/api/alarms/{down['id']}/acknowledge", json={"note": "looking"}
    )
    assert refused.status_code == 403
    assert admin.post(f"/api/alarms/{down['id']}/acknowledge", json={"note": ""}).status_code == 422
    acked = admin.post(
        f"/api/alarms/{down['id']}/acknowledge", json={"note": "power cable checked"}
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == "admin1"
    with ctx.db.session() as session:
        entry = session.exec(
            select(LedgerEntry).where(col(LedgerEntry.event) == "alarm_acknowledged")
        ).one()
    assert entry.actor == "admin1" and entry.ref == str(down["id"])
    assert json.loads(entry.data)["note"] == "power cable checked"
    # Acknowledged is not cleared: only the camera recording again clears it.
    assert "camera_down" in kinds()
    _status(ctx, "cam02", "recording", clock.now_ms())
    make_segments(ctx, "cam02", [clock.now_ms() - 2000], length_ms=2000)
    daemon.check()
    assert "camera_down" not in kinds()
    gone = admin.post(f"/api/alarms/{down['id']}/acknowledge", json={"note": "again"})
    assert gone.status_code == 409
    assert admin.post("/api/alarms/99999/acknowledge", json={"note": "x"}).status_code == 404


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_parse_and_agree_with_the_status(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login, anonymous: TestClient
) -> None:
    now = clock.now_ms()
    make_segments(ctx, "cam01", [now - 60_000], length_ms=60_000, size_bytes=7500)
    _status(ctx, "cam01", "recording", now - 60_000)
    _status(ctx, "cam02", "failed", now - 600_000)
    HealthDaemon(ctx).check()
    assert anonymous.get("/metrics").status_code == 401
    wrong = anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    answer = anonymous.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    metrics = _metrics(answer.text)
    status = login("admin1").get("/api/health/status").json()

    def one(name: str, **labels: str) -> float:
        return metrics[(name, tuple(sorted(labels.items())))]

    assert one("appliance_cameras_total") == status["cameras_total"] == 3
    assert one("appliance_cameras_up") == status["cameras_recording"] == 1
    assert one("appliance_cameras_down") == len(status["cameras_down"]) == 1
    for camera in status["cameras"]:
        assert one("appliance_camera_up", camera=camera["id"]) == (camera["state"] == "recording")
        assert one("appliance_camera_bitrate_bps", camera=camera["id"]) == (
            camera["bitrate_bps"] or 0
        )
        assert one("appliance_camera_frames_dropped_today", camera=camera["id"]) == 0
    assert one("appliance_camera_recording_lag_seconds", camera="cam01") == 0.0
    storage = status["storage"]
    # Other processes share the disk: free space may move a little between the two reads.
    assert abs(one("appliance_disk_free_bytes") - storage["free_bytes"]) < 256 * 1024**2
    assert one("appliance_stored_bytes") == storage["stored_bytes"] == 7500
    assert one("appliance_bytes_per_day") == storage["bytes_per_day"]
    assert one("appliance_purge_lag_seconds") == storage["purge_lag_s"]
    assert one("appliance_holds_active") == storage["holds_active"]
    assert one("appliance_requests_overdue") == status["requests_overdue"]
    assert one("appliance_requests_due_soon") == status["requests_due_soon"]
    assert one("appliance_failed_logins_24h") == status["failed_logins_24h"]
    assert one("appliance_vault_unlocked") == 1
    open_kinds = [a["kind"] for a in status["alarms"]]
    assert one("appliance_alarms_open", kind="camera_down") == open_kinds.count("camera_down") == 1
    assert one("appliance_alarms_open", kind="keys_in_clear") == 1
    head_age = status["ledger"]["head_age_s"]
    assert one("appliance_ledger_head_age_seconds") == (-1 if head_age is None else head_age)


def test_metrics_without_a_token_answer_loopback_only(
    make_settings: SettingsFactory, clock: FakeClock
) -> None:
    from api.app import create_app
    from appliance.cli.main import initialize

    settings = make_settings()
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    try:
        app = create_app(ctx)
        assert TestClient(app).get("/metrics").status_code == 403  # "testclient" is no loopback
        local = TestClient(app, client=("127.0.0.1", 40000))
        assert local.get("/metrics").status_code == 200
        relayed = local.get("/metrics", headers={"X-Forwarded-For": "192.0.2.7"})
        assert relayed.status_code == 403  # a reverse proxy on loopback relays others
    finally:
        ctx.close()


def test_the_routes_admit_the_roles_of_the_health_permissions(app: FastAPI) -> None:
    a, of, u = Role.admin, Role.officer, Role.auditor
    expected: dict[tuple[str, str], frozenset[Role] | str] = {
        ("GET", "/health"): frozenset({a, of, u}),
        ("GET", "/api/health/status"): frozenset({a, of, u}),
        ("GET", "/api/alarms"): frozenset({a, of}),
        ("POST", "/api/alarms/{alarm_id}/acknowledge"): frozenset({a, of}),
        ("GET", "/metrics"): "public",  # guarded by its token or loopback, tested above
    }
    declared: dict[tuple[str, str], frozenset[Role] | str] = {}
    for route in routes_of(app):
        for method in route.methods:
            guard = route.guard
            declared[(method, route.path)] = (
                frozenset(guard.roles) if isinstance(guard, RoleGuard) else str(guard)
            )
    assert {key: declared.get(key) for key in expected} == expected


def test_a_verification_through_the_api_shows_on_the_health_page(
    ctx: AppContext, staff: Staff, login: Login
) -> None:
    admin = login("admin1")
    assert admin.get("/api/health/status").json()["ledger"]["verified_ms"] is None
    assert admin.get("/api/ledger/verify").json()["ok"] is True
    ledger = admin.get("/api/health/status").json()["ledger"]
    assert ledger["verified_ok"] is True and ledger["verified_ms"] == ctx.clock.now_ms()
    assert ledger["verified_summary"].startswith("ledger verified")
