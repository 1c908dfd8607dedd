"""Recorder nodes on the health status and /metrics (issue 19): heartbeat age, cameras held,
free space against the floor; a node that stopped beating shows as down."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlmodel import col

from appliance.context import AppContext
from appliance.models.nodes import RecorderNode
from appliance.nodes import acquire, beat, ensure_leases, register
from appliance.settings import Settings
from tests.support.config import SettingsFactory
from tests.support.users import Login, Staff

GIB = 1024**3
TOKEN = "nodes-metrics-token-0123456789"


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(metrics={"token": TOKEN})


def test_nodes_on_the_health_status_and_metrics(
    ctx: AppContext, staff: Staff, login: Login, anonymous: TestClient
) -> None:
    with ctx.db.session() as session:
        ensure_leases(session, ["cam01", "cam02", "cam03"])
        for node in ("rec-a", "rec-b"):
            register(session, node, live_url="", floor_bytes=2 * GIB)
        beat(session, "rec-a", free_bytes=50 * GIB, below_floor=False)
        beat(session, "rec-b", free_bytes=GIB, below_floor=True)
        for camera in ("cam01", "cam02"):
            assert acquire(session, camera, "rec-a", 15_000) is not None
        assert acquire(session, "cam03", "rec-b", 1) is not None  # expires at once
        # rec-b's last beat was a minute ago (by the database clock): it is down.
        session.execute(
            update(RecorderNode)
            .where(col(RecorderNode.id) == "rec-b")
            .values(heartbeat_ms=RecorderNode.heartbeat_ms - 60_000)
        )
    body = login("admin1").get("/api/health/status").json()
    nodes = {n["id"]: n for n in body["nodes"]}
    assert nodes["rec-a"]["live"] and nodes["rec-a"]["cameras_held"] == 2
    assert nodes["rec-a"]["free_bytes"] == 50 * GIB and nodes["rec-a"]["floor_bytes"] == 2 * GIB
    assert nodes["rec-a"]["heartbeat_age_s"] < 5
    assert not nodes["rec-b"]["live"] and not nodes["rec-b"]["stopped"]
    assert nodes["rec-b"]["below_floor"] and nodes["rec-b"]["cameras_held"] == 0
    assert nodes["rec-b"]["heartbeat_age_s"] >= 60
    assert body["storage"]["recorder_floor_bytes"] == ctx.settings.recorder.disk_floor_bytes

    metrics = anonymous.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    samples = {
        (s.name, s.labels.get("node")): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name.startswith("appliance_node_")
    }
    assert samples[("appliance_node_cameras_held", "rec-a")] == 2
    assert samples[("appliance_node_disk_free_bytes", "rec-b")] == GIB
    assert samples[("appliance_node_heartbeat_age_seconds", "rec-b")] >= 60
