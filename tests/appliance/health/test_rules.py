"""The pure rules of the health domain, and the small queries that feed them."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from appliance.alarms import AlarmKind, open_alarms
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.health.cameras import CameraHealth, SegmentFacts, ingest_path, is_down, rates
from appliance.health.counters import add_dropped_frames, day_of, dropped_frames_on
from appliance.health.delivery import backoff_s, recipients_for
from appliance.health.status import health_status
from appliance.health.storage import days_fit, purge_lag_ms
from appliance.health.verification import last_verification, record_verification
from appliance.ledger.verify import VerifyReport
from appliance.models import Hold, HoldCamera
from appliance.settings import AlarmsConfig, Settings
from tests.support.segments import make_segments

NOW = 1_000_000_000


def test_rates_use_recent_segments_only() -> None:
    newest = [
        SegmentFacts(NOW - 60_000, NOW - 30_000, 375_000, 750),  # 30 s, 100 kbit/s, 25 fps
        SegmentFacts(NOW - 30_000, NOW, 375_000, 750),
    ]
    assert rates(newest, NOW) == (100_000.0, 25.0)
    assert rates(newest, NOW + 301_000) == (None, None)  # nothing ended in the last 5 min
    assert rates([], NOW) == (None, None)


def _camera(state: str, since_ms: int | None, last_end: int | None) -> CameraHealth:
    return CameraHealth(
        "cam01", "c", "l", "general", True, state, "", "", since_ms, last_end,
        None, None, 0, "", "native",
    )  # fmt: skip


def test_a_camera_is_down_after_the_configured_time() -> None:
    assert not is_down(_camera("reconnecting", NOW - 299_000, None), NOW, 300_000, 2000)
    assert is_down(_camera("reconnecting", NOW - 300_000, None), NOW, 300_000, 2000)
    assert is_down(_camera("failed", NOW - 400_000, None), NOW, 300_000, 2000)
    assert not is_down(_camera("recording", NOW - 900_000, NOW - 1000), NOW, 300_000, 2000)
    # Says recording, but no segment ended for far too long: a stuck recorder.
    assert is_down(_camera("recording", NOW - 900_000, NOW - 305_000), NOW, 300_000, 2000)
    assert not is_down(_camera("unknown", None, None), NOW, 300_000, 2000)


def test_ingest_path_follows_the_recorder_rule(settings: Settings) -> None:
    camera = settings.cameras[0]
    assert ingest_path(settings, camera) == "native"
    rtsps = camera.model_copy(update={"url": "rtsps://127.0.0.1:322/x"})
    assert ingest_path(settings, rtsps) == "ffmpeg"


def test_days_fit_and_purge_lag() -> None:
    assert days_fit(10, 100, 20, 0) is None
    assert days_fit(100, 1000, 100, 100.0) == 10.0
    assert days_fit(0, 10, 100, 100.0) == 0.0
    assert purge_lag_ms([NOW - 5000, NOW + 10, NOW - 100], NOW) == 5000
    assert purge_lag_ms([], NOW) == 0


def test_backoff_doubles_up_to_the_cap_and_recipients_merge() -> None:
    config = AlarmsConfig(
        retry_base_s=30,
        retry_max_s=100,
        email={"recipients": {"camera_down": ["a@x", "b@x"], "*": ["b@x", "c@x"]}},
    )
    assert [backoff_s(n, config) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
    assert recipients_for("camera_down", config) == ["a@x", "b@x", "c@x"]
    assert recipients_for("vault_locked", config) == ["b@x", "c@x"]


def test_dropped_frames_count_per_site_day(ctx: AppContext) -> None:
    zone = ZoneInfo("Asia/Seoul")
    with ctx.db.session() as session:
        add_dropped_frames(session, "cam01", 3, NOW, zone)
        add_dropped_frames(session, "cam01", 4, NOW + 1000, zone)
        add_dropped_frames(session, "cam02", 0, NOW, zone)
    with ctx.db.session() as session:
        assert dropped_frames_on(session, day_of(NOW, zone)) == {"cam01": 7}


def test_verification_results_raise_and_clear_the_integrity_alarm(ctx: AppContext) -> None:
    bad = VerifyReport(False, 5, 0, 5, "00", 0, first_bad_seq=3, problem="hash mismatch")
    good = VerifyReport(True, 6, 0, 6, "00", 1)
    with ctx.db.session() as session:
        record_verification(session, bad, NOW, "test")
        assert [a.kind for a in open_alarms(session)].count(AlarmKind.ledger_integrity) == 1
        row = last_verification(session)
        assert row is not None and not row.ok and row.first_bad_seq == 3
        record_verification(session, good, NOW + 1, "test")
        assert AlarmKind.ledger_integrity not in [a.kind for a in open_alarms(session)]
        row = last_verification(session)
        assert row is not None and row.ok


def test_storage_oldest_footage_and_purge_lag(ctx: AppContext, clock: FakeClock) -> None:
    now = clock.now_ms()
    day = 86_400_000
    # cam01 (general, 30 days): one segment 31 days old (expired a day ago), one fresh.
    make_segments(ctx, "cam01", [now - 31 * day, now - 120_000], length_ms=60_000, size_bytes=750)
    # cam02: an old segment under a hold, so not due.
    make_segments(ctx, "cam02", [now - 40 * day], length_ms=60_000)
    with ctx.db.session() as session:
        hold = Hold(reason="r", placed_ms=now, placed_by="t", start_ms=now - 41 * day, end_ms=now)
        session.add(hold)
        session.flush()
        assert hold.id is not None
        session.add(HoldCamera(hold_id=hold.id, camera_id="cam02"))
    status = health_status(ctx)
    storage = status.storage
    general = next(g for g in storage.groups if g.name == "general")
    assert general.oldest_ms == now - 40 * day and general.over_retention(now)
    # Expired at start + 30 days + 60 s of its own length... start + max_days, end + min_days.
    assert storage.purge_lag_ms == day
    assert storage.holds_active == 1
    assert storage.stored_bytes == 750 * 2 + 256
    cam01 = next(c for c in status.cameras if c.id == "cam01")
    assert cam01.bitrate_bps == 100.0 and cam01.fps == 25.0 and cam01.codec == "h264"
    assert storage.bytes_per_day == 100.0 / 8 * 86_400
    clock.advance(timedelta(minutes=10))
    later = health_status(ctx).cameras[0]
    assert later.bitrate_bps is None  # nothing recent: no rate "now"


def test_a_misspelt_alarm_kind_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match="unknown alarm kinds"):
        AlarmsConfig(email={"recipients": {"camera_dwn": ["a@x"]}})
    with pytest.raises(ValidationError, match="unknown alarm kinds"):
        AlarmsConfig(webhook={"url": "http://127.0.0.1/x", "kinds": ["vault"]})
    assert AlarmsConfig(email={"recipients": {"*": ["a@x"], "vault_locked": ["b@x"]}})


def test_a_new_agency_request_raises_until_the_desk_takes_it_up(ctx: AppContext) -> None:
    from appliance.health.checks import check_new_requests
    from appliance.models import FootageRequest, Role
    from appliance.models.core import User

    with ctx.db.session() as session:
        agency = User(
            username="police1", display_name="P", role=Role.agency.value, password_hash="x",
            created_ms=NOW, updated_ms=NOW,
        )  # fmt: skip
        session.add(agency)
        session.flush()

        def request(agency_id: int | None) -> FootageRequest:
            row = FootageRequest(
                kind="copy", state="received", channel="api", requester_kind="police",
                requester_name="P", agency_user_id=agency_id, camera_ids=["cam01"],
                start_ms=NOW, end_ms=NOW + 1, received_ms=NOW, received_by="api", due_ms=NOW,
                created_ms=NOW, updated_ms=NOW,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return row

        from_agency, at_desk = request(agency.id), request(None)
        assert check_new_requests(session, NOW) == [from_agency.id]
        subjects = [a.subject for a in open_alarms(session) if a.kind == "request_new"]
        assert subjects == [f"request:{from_agency.id}"] and at_desk.id is not None
        from_agency.state = "identity_verified"
        session.add(from_agency)
        session.flush()
        assert check_new_requests(session, NOW + 1) == []
        assert not [a for a in open_alarms(session) if a.kind == "request_new"]


def test_a_locked_vault_raises_its_alarm_until_unlocked(ctx: AppContext) -> None:
    from appliance.health.checks import check_vault

    with ctx.db.session() as session:
        check_vault(session, False, NOW)
        check_vault(session, False, NOW + 1)  # refreshed, not doubled
        assert [a.kind for a in open_alarms(session)].count("vault_locked") == 1
        check_vault(session, True, NOW + 2)
        assert "vault_locked" not in [a.kind for a in open_alarms(session)]
