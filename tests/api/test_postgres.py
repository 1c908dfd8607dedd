"""The access and viewing path on PostgreSQL: sign-in, grants, a viewing session (ledger first),
a served MP4, the end entry, the timeline."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import CSRF_HEADER
from appliance.access import Principal
from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import Role
from tests.support.config import SettingsFactory
from tests.support.footage import decode_mp4, make_clip, store_clip

PASSWORD = "correct horse battery"


@pytest.mark.postgres
def test_viewing_on_postgresql(
    make_settings: SettingsFactory,
    clock: FakeClock,
    pg_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = make_settings(database={"url": pg_url})
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    try:
        app = create_app(ctx)
        root = Principal.local("root")
        user, _ = app.state.access.create_user(
            root, username="viewer1", role=Role.viewer, display_name="V", password=PASSWORD
        )
        app.state.access.change_grants(root, user.id, add=["cam01"])
        clip = make_clip(tmp_path_factory.mktemp("clips") / "p.h264", "h264", 4)
        rec = store_clip(ctx, clip, camera_id="cam01", start_ms=clock.now_ms() - 60_000)
        with TestClient(app) as client:
            login = client.post(
                "/api/auth/login", json={"username": "viewer1", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            client.headers[CSRF_HEADER] = login.json()["csrf_token"]
            opened = client.post(
                "/api/viewing",
                json={
                    "kind": "playback",
                    "cameras": ["cam01"],
                    "start_ms": rec.start_ms,
                    "end_ms": rec.end_ms,
                    "purpose": {"category": "incident", "text": "PostgreSQL check"},
                },
            )
            assert opened.status_code == 201, opened.text
            viewing_id = opened.json()["id"]
            media = client.get(f"/api/viewing/{viewing_id}/media", params={"camera_id": "cam01"})
            assert media.status_code == 200 and len(decode_mp4(media.content)) == rec.frames
            ended = client.post(f"/api/viewing/{viewing_id}/end").json()
            assert ended["spans"][0]["outcome"] == "complete"
            day = client.get("/api/timeline/cam01", params={"day": "2026-03-01"}).json()
            assert day["recorded_ms"] == rec.end_ms - rec.start_ms
        ends = ctx.ledger.entries(events=[EventType.view_recorded_end], refs=[f"view:{viewing_id}"])
        assert len(ends) == 1
        assert ctx.ledger.verify().ok
    finally:
        ctx.close()
