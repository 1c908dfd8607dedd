"""Purpose-bound playback over HTTP: purpose required, ledger first (fail closed), frames match,
seeking, scope (R-VIEW-3), H.265 transcoding, end and expiry recorded, nothing on disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import ViewingSession, ViewingSpan
from tests.support.footage import (
    FPS,
    FRAME_MS,
    Clip,
    Recorded,
    decode_clip,
    decode_mp4,
    make_clip,
    psnr,
    store_clip,
)
from tests.support.users import Login, Staff

SECONDS = 6


@pytest.fixture(scope="module")
def h264_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "v.h264", "h264", SECONDS)


@pytest.fixture(scope="module")
def hevc_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "v.hevc", "hevc", SECONDS)


@pytest.fixture
def recorded(ctx: AppContext, h264_clip: Clip, staff: Staff) -> Recorded:
    """Six seconds of cam01 ending a minute ago, in three encrypted segments."""
    start = ctx.clock.now_ms() - 60_000
    return store_clip(ctx, h264_clip, camera_id="cam01", start_ms=start)


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


def _media(client: TestClient, viewing_id: int, camera: str = "cam01", **params: Any) -> Any:
    return client.get(f"/api/viewing/{viewing_id}/media", params={"camera_id": camera, **params})


def test_purpose_is_required(login: Login, recorded: Recorded) -> None:
    viewer = login("viewer1")
    missing = _open(viewer, recorded, purpose={})
    assert missing.status_code == 422 and "purpose is required" in missing.json()["detail"]
    vague = _open(viewer, recorded, purpose={"category": "other", "text": "x"})
    assert vague.status_code == 422
    request_needs_id = _open(viewer, recorded, purpose={"category": "request", "text": "abcd"})
    assert request_needs_id.status_code == 422
    no_body_purpose = viewer.post(
        "/api/viewing", json={"kind": "playback", "cameras": ["cam01"], "start_ms": 1, "end_ms": 2}
    )
    assert no_body_purpose.status_code == 422
    by_request = _open(viewer, recorded, purpose={"request_id": "REQ-2026-0042"})
    assert by_request.status_code == 201, by_request.text
    assert by_request.json()["purpose_category"] == "request"


def test_ledger_entry_exists_before_the_first_byte(
    login: Login, recorded: Recorded, ctx: AppContext
) -> None:
    viewer = login("viewer1")
    opened = _open(viewer, recorded)
    assert opened.status_code == 201, opened.text
    viewing_id = opened.json()["id"]
    # Committed before any media was asked for.
    entries = ctx.ledger.entries(
        events=[EventType.view_recorded_start], refs=[f"view:{viewing_id}"]
    )
    assert len(entries) == 1
    entry = entries[0]
    assert entry.actor == "viewer1" and entry.data["cameras"] == ["cam01"]
    assert entry.data["from_ms"] == recorded.start_ms and entry.data["to_ms"] == recorded.end_ms
    assert "낙상" in entry.data["purpose"]
    with viewer.stream(
        "GET", f"/api/viewing/{viewing_id}/media", params={"camera_id": "cam01"}
    ) as response:
        assert response.status_code == 200
        first = next(response.iter_bytes())
        assert first[4:8] == b"ftyp"
        # At the first byte the session, its span and its entry are all committed.
        with ctx.db.session() as session:
            spans = session.exec(select(ViewingSpan)).all()
        assert [s.viewing_id for s in spans] == [viewing_id]
        assert entry.seq <= ctx.ledger.tip().seq


def test_broken_ledger_blocks_viewing(login: Login, recorded: Recorded, ctx: AppContext) -> None:
    viewer = login("viewer1")
    with ctx.db.engine.begin() as conn:  # a real broken ledger: its tip row is gone
        conn.execute(text("DELETE FROM ledger_tip"))
    refused = _open(viewer, recorded)
    assert refused.status_code == 503 and refused.json()["error"] == "LedgerUnavailable"
    with ctx.db.session() as session:
        assert session.exec(select(ViewingSession)).all() == []
    for viewing_id in (1, 2):
        assert _media(viewer, viewing_id).status_code == 404


def test_served_mp4_decodes_and_frames_match(
    login: Login, recorded: Recorded, h264_clip: Clip
) -> None:
    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    response = _media(viewer, viewing_id)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["x-transcoded"] == "0"
    frames = decode_mp4(response.content)
    expected = decode_clip(h264_clip, "h264")
    assert len(frames) == len(expected) == SECONDS * FPS
    assert all((a == b).all() for a, b in zip(frames, expected, strict=True))


def test_seeking_starts_at_the_enclosing_key_frame(
    login: Login, recorded: Recorded, h264_clip: Clip
) -> None:
    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    start = recorded.start_ms + 2500  # key frames every second: starts at 2 s
    end = recorded.start_ms + 4000
    response = _media(viewer, viewing_id, start_ms=start, end_ms=end)
    frames = decode_mp4(response.content)
    expected = decode_clip(h264_clip, "h264")[2 * FPS : 4 * FPS]
    assert len(frames) == len(expected)
    assert all((a == b).all() for a, b in zip(frames, expected, strict=True))


def test_hevc_is_transcoded_to_h264_for_the_range_only(
    login: Login, ctx: AppContext, hevc_clip: Clip, staff: Staff
) -> None:
    rec = store_clip(
        ctx, hevc_clip, camera_id="cam02", start_ms=ctx.clock.now_ms() - 60_000, codec="hevc"
    )
    officer = login("officer1")
    viewing_id = _open(officer, rec).json()["id"]
    start, end = rec.start_ms + 1000 + 7 * FRAME_MS, rec.start_ms + 3000
    response = _media(officer, viewing_id, camera="cam02", start_ms=start, end_ms=end)
    assert response.status_code == 200, response.text
    assert response.headers["x-source-codec"] == "hevc" and response.headers["x-transcoded"] == "1"
    import io

    import av

    with av.open(io.BytesIO(response.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    frames = decode_mp4(response.content)
    first = (start - rec.start_ms) // FRAME_MS  # exact start: frames before it are not encoded
    expected = decode_clip(hevc_clip, "hevc")[first : (end - rec.start_ms) // FRAME_MS]
    assert len(frames) == len(expected)
    assert min(psnr(a, b) for a, b in zip(frames, expected, strict=True)) > 30


def test_scope_is_enforced(login: Login, recorded: Recorded, staff: Staff) -> None:
    viewer = login("viewer1")
    narrow = _open(viewer, recorded, end_ms=recorded.start_ms + 2000).json()
    viewing_id = narrow["id"]
    # Another camera, even one the viewer could not open anyway.
    assert _media(viewer, viewing_id, camera="cam02").status_code == 404
    # Outside the session's range.
    late = _media(viewer, viewing_id, start_ms=recorded.start_ms, end_ms=recorded.end_ms)
    assert late.status_code == 403 and "R-VIEW-3" in late.json()["detail"]
    # Not granted.
    assert _open(viewer, recorded, cameras=["cam02"]).status_code == 403
    # Someone else's session, even the officer's (who may view every camera).
    officer = login("officer1")
    assert _media(officer, viewing_id).status_code == 404
    # An auditor never sees video.
    auditor = login("auditor1")
    assert _open(auditor, recorded).status_code == 403
    # Too wide a range.
    wide = _open(viewer, recorded, start_ms=recorded.end_ms - 3 * 86_400_000)
    assert wide.status_code == 422


def test_revoking_a_grant_stops_the_next_stream(
    login: Login, recorded: Recorded, staff: Staff
) -> None:
    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    assert _media(viewer, viewing_id).status_code == 200
    admin = login("admin1")
    admin.post(f"/api/users/{staff.ids['viewer1']}/grants", json={"revoke": ["cam01"]})
    assert _media(viewer, viewing_id).status_code == 403


def test_end_records_what_was_watched(login: Login, recorded: Recorded, ctx: AppContext) -> None:
    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    size = len(_media(viewer, viewing_id, start_ms=recorded.start_ms + 1000).content)
    ended = viewer.post(f"/api/viewing/{viewing_id}/end").json()
    assert ended["ended_ms"] is not None and ended["end_reason"] == "closed"
    assert ended["spans"][0]["bytes_sent"] == size and ended["spans"][0]["outcome"] == "complete"
    (entry,) = ctx.ledger.entries(events=[EventType.view_recorded_end], refs=[f"view:{viewing_id}"])
    assert entry.data["watched"] == [
        {
            "camera": "cam01",
            "from_ms": recorded.start_ms + 1000,
            "to_ms": recorded.end_ms,
            "bytes": size,
            "outcome": "complete",
        }
    ]
    assert _media(viewer, viewing_id).status_code == 403  # ended


def test_expired_session_serves_nothing_and_is_closed(
    login: Login, recorded: Recorded, ctx: AppContext, clock: FakeClock
) -> None:
    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    clock.advance(ctx.settings.server.viewing_max_s + 1)
    viewer = login("viewer1")  # the sign-in session timed out too
    response = _media(viewer, viewing_id)
    assert response.status_code == 403 and "expired" in response.json()["detail"]
    (entry,) = ctx.ledger.entries(events=[EventType.view_recorded_end], refs=[f"view:{viewing_id}"])
    assert entry.data["reason"] == "expired"


def test_locked_vault_refuses_playback(login: Login, recorded: Recorded, ctx: AppContext) -> None:
    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    ctx.vault.set_passphrase("a vault passphrase for the test")
    ctx.vault.lock()
    assert _open(viewer, recorded).status_code == 423
    assert _media(viewer, viewing_id).status_code == 423


def _files(root: Path) -> set[str]:
    found = set()
    for folder, _, names in os.walk(root):
        for name in names:
            if not name.startswith("appliance.db"):
                found.add(os.path.join(folder, name))
    return found


def test_nothing_is_written_to_disk_while_serving(
    login: Login, recorded: Recorded, ctx: AppContext, app: FastAPI, tmp_path: Path
) -> None:
    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    before = _files(ctx.settings.storage.data_dir) | _files(Path("/tmp"))
    assert len(_media(viewer, viewing_id).content) > 10_000
    after = _files(ctx.settings.storage.data_dir) | _files(Path("/tmp"))
    # Other tests' recorders (pytest's temporary dirs, session fixtures, parallel runs) write
    # segment .tmp files under /tmp meanwhile: this appliance's data dir is checked below.
    new = {f for f in after - before if "/pytest-of-" not in f}
    assert not {f for f in new if f.endswith((".mp4", ".h264", ".tmp"))}
    assert _files(ctx.settings.storage.data_dir) == _files(ctx.settings.storage.data_dir) & before


def test_the_web_service_closes_expired_sessions_without_a_request(
    login: Login, recorded: Recorded, ctx: AppContext, clock: FakeClock
) -> None:
    """The closing ledger entry of an abandoned session is written by the service's sweeper,
    not only at the next API call (what `appliance run` runs every SWEEP_INTERVAL_S)."""
    from api.daemon import WebDaemon

    viewer = login("viewer1")
    viewing_id = _open(viewer, recorded).json()["id"]
    service = WebDaemon(ctx)
    assert service.sweep() == 0  # still open
    clock.advance(ctx.settings.server.viewing_max_s + 1)
    assert service.sweep() == 1
    (entry,) = ctx.ledger.entries(events=[EventType.view_recorded_end], refs=[f"view:{viewing_id}"])
    assert entry.data["reason"] == "expired" and entry.actor == "system"
    assert service.sweep() == 0  # recorded once
