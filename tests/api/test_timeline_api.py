"""The timeline API: recorded ranges, gaps and holds of a camera-day, visible by grant."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from appliance.context import AppContext
from appliance.models import Gap
from appliance.retention.holds import place_hold
from tests.support.footage import make_clip, store_clip
from tests.support.users import Login, Staff


@pytest.fixture
def day_of_cam01(ctx: AppContext, staff: Staff, tmp_path_factory: pytest.TempPathFactory) -> int:
    """Two recordings 10 minutes apart with a gap between, and a hold over the first."""
    clip = make_clip(tmp_path_factory.mktemp("clips") / "t.h264", "h264", 4)
    base = ctx.clock.now_ms() - 3_600_000  # 2026-02-28 23:00 UTC = 03-01 08:00 in Seoul
    store_clip(ctx, clip, camera_id="cam01", start_ms=base)
    store_clip(ctx, clip, camera_id="cam01", start_ms=base + 600_000)
    with ctx.db.session() as session:
        session.add(
            Gap(
                camera_id="cam01", start_ms=base + 4000, end_ms=base + 600_000, reason="unreachable"
            )
        )
    with Session(ctx.db.engine) as session:
        place_hold(
            ctx,
            session,
            camera_ids=["cam01"],
            start_ms=base,
            end_ms=base + 4000,
            reason="경찰 수사 협조",
            reference="REQ-1",
            placed_by="officer1",
        )
        session.commit()
    return base


def test_camera_day(login: Login, day_of_cam01: int) -> None:
    base = day_of_cam01
    viewer = login("viewer1")
    body = viewer.get("/api/timeline/cam01", params={"day": "2026-03-01"}).json()
    assert body["timezone"] == "Asia/Seoul"
    assert body["recorded"] == [
        {"start_ms": base, "end_ms": base + 4000},
        {"start_ms": base + 600_000, "end_ms": base + 604_000},
    ]
    assert body["recorded_ms"] == 8000
    assert body["gaps"] == [
        {"start_ms": base + 4000, "end_ms": base + 600_000, "reason": "unreachable"}
    ]
    assert [(h["start_ms"], h["end_ms"], h["reference"]) for h in body["holds"]] == [
        (base, base + 4000, "REQ-1")
    ]
    other_day = viewer.get("/api/timeline/cam01", params={"day": "2026-02-27"}).json()
    assert other_day["recorded"] == [] and other_day["holds"] == []
    # Not granted: looks like no such camera.
    assert viewer.get("/api/timeline/cam02").status_code == 404
    # An auditor reads timelines (metadata) but never video.
    assert login("auditor1").get("/api/timeline/cam02").status_code == 200
    assert viewer.get("/api/timeline/cam01", params={"day": "yesterday"}).status_code == 422
