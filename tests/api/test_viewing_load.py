"""Issue 13, finding 5 and the viewing items of finding 8, over HTTP with real segments:
stream limits (429, freed on disconnect), transcoding only for H.265 and within its limit,
recorded playback paced near real time, a mid-stream stop when the session ends, the pre-roll
in the closing entry, and a playback end in the future clamped to now."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import ViewingSpan
from appliance.settings import Settings
from tests.support.footage import Clip, Recorded, make_clip, store_clip
from tests.support.users import Login, Staff

SECONDS = 6
BURST_S = 1.0


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    limits = {"streams_per_user": 2, "transcodes_per_box": 1, "burst_s": BURST_S}
    return make_settings(viewing={**limits, "recheck_s": 0.2})  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def h264_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "v.h264", "h264", SECONDS)


@pytest.fixture(scope="module")
def hevc_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "v.hevc", "hevc", 2)


@pytest.fixture
def recorded(ctx: AppContext, h264_clip: Clip, staff: Staff) -> Recorded:
    return store_clip(ctx, h264_clip, camera_id="cam01", start_ms=ctx.clock.now_ms() - 60_000)


def _open(client: TestClient, rec: Recorded, **overrides: Any) -> Any:
    body: dict[str, Any] = {
        "kind": "playback",
        "cameras": [rec.camera_id],
        "start_ms": rec.start_ms,
        "end_ms": rec.end_ms,
        "purpose": {"category": "incident", "text": "로비 낙상 사고 경위 확인"},
    }
    body.update(overrides)
    return client.post("/api/viewing", json=body)


def _url(viewing_id: int) -> str:
    return f"/api/viewing/{viewing_id}/media"


def test_streams_per_user_are_limited_and_a_disconnect_frees_the_slot(
    login: Login, recorded: Recorded
) -> None:
    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    params = {"camera_id": "cam01"}
    with (
        viewer.stream("GET", _url(viewing_id), params=params) as one,
        viewer.stream("GET", _url(viewing_id), params=params) as two,
    ):
        assert one.status_code == two.status_code == 200
        next(one.iter_bytes()), next(two.iter_bytes())
        third = viewer.get(_url(viewing_id), params=params)
        assert third.status_code == 429, third.text
        assert "streams_per_user" in third.json()["detail"]
        assert int(third.headers["retry-after"]) > 0
    # Both clients went away mid-stream: their slots are free again.
    deadline = time.monotonic() + 10
    while (again := viewer.get(_url(viewing_id), params=params)).status_code == 429:
        assert time.monotonic() < deadline, "a disconnected stream kept its slot"
        time.sleep(0.1)
    assert again.status_code == 200


def test_h264_is_never_transcoded_and_h265_only_within_the_limit(
    login: Login, ctx: AppContext, recorded: Recorded, hevc_clip: Clip
) -> None:
    officer = login("officer1")
    viewing_id = _open(officer, recorded).json()["id"]
    forced = officer.get(_url(viewing_id), params={"camera_id": "cam01", "transcode": "true"})
    assert forced.status_code == 422 and "no conversion" in forced.json()["detail"]
    rec = store_clip(
        ctx, hevc_clip, camera_id="cam02", start_ms=ctx.clock.now_ms() - 30_000, codec="hevc"
    )
    hevc_id = _open(officer, rec).json()["id"]
    params = {"camera_id": "cam02"}
    with officer.stream("GET", _url(hevc_id), params=params) as first:
        assert first.status_code == 200 and first.headers["x-transcoded"] == "1"
        second = officer.get(_url(hevc_id), params=params)
        assert second.status_code == 429 and "transcodes_per_box" in second.json()["detail"]
        # As stored, for a player that plays H.265, is no transcode.
        stored = officer.get(_url(hevc_id), params={**params, "transcode": "false"})
        assert stored.status_code == 200 and stored.headers["x-transcoded"] == "0"


def test_recorded_playback_is_paced_near_real_time(login: Login, recorded: Recorded) -> None:
    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    began = time.monotonic()
    response = viewer.get(_url(viewing_id), params={"camera_id": "cam01"})
    took = time.monotonic() - began
    assert response.status_code == 200 and len(response.content) > 10_000
    # Six seconds of footage, one of them as a burst: the rest at the pace of the video.
    assert took >= SECONDS - BURST_S - 1.5, f"served {SECONDS} s of video in {took:.2f} s"


def test_a_stream_stops_mid_way_when_its_session_ends(
    login: Login, recorded: Recorded, ctx: AppContext
) -> None:
    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    received = 0
    with viewer.stream("GET", _url(viewing_id), params={"camera_id": "cam01"}) as response:
        chunks = response.iter_bytes()
        received += len(next(chunks))
        other = login("viewer1")
        assert other.post(f"/api/viewing/{viewing_id}/end").status_code == 200
        began = time.monotonic()
        for chunk in chunks:
            received += len(chunk)
        assert time.monotonic() - began < 3
    with ctx.db.session() as session:
        (span,) = session.exec(select(ViewingSpan)).all()
    assert span.outcome == "stopped: session ended"
    assert span.finished_ms is not None and received == span.bytes_sent
    assert span.end_ms is not None and span.start_ms < span.end_ms


def test_the_pre_roll_is_recorded_as_the_span_start(
    login: Login, recorded: Recorded, ctx: AppContext
) -> None:
    viewer = login("viewer1")
    # The session starts half a second after a key frame; key frames come every second.
    viewing_id = _open(viewer, recorded, start_ms=recorded.start_ms + 2500).json()["id"]
    params = {"camera_id": "cam01", "end_ms": recorded.start_ms + 4000}
    assert viewer.get(_url(viewing_id), params=params).status_code == 200
    viewer.post(f"/api/viewing/{viewing_id}/end")
    (entry,) = ctx.ledger.entries(events=[EventType.view_recorded_end], refs=[f"view:{viewing_id}"])
    (watched,) = entry.data["watched"]
    assert watched["from_ms"] == recorded.start_ms + 2000  # the key frame before, shown too
    assert watched["before_range_ms"] == 500


def test_a_playback_end_in_the_future_is_clamped_to_now(
    login: Login, recorded: Recorded, ctx: AppContext
) -> None:
    viewer = login("viewer1")
    now = ctx.clock.now_ms()
    opened = _open(viewer, recorded, end_ms=now + 3_600_000)
    assert opened.status_code == 201, opened.text
    assert opened.json()["end_ms"] == now
    (entry,) = ctx.ledger.entries(
        events=[EventType.view_recorded_start], refs=[f"view:{opened.json()['id']}"]
    )
    assert entry.data["to_ms"] == now and entry.data["asked_to_ms"] == now + 3_600_000
    future = _open(viewer, recorded, start_ms=now + 1000, end_ms=now + 2000)
    assert future.status_code == 422 and "future" in future.json()["detail"]
