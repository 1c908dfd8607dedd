"""Alarms reach people: e-mail through a real SMTP server on loopback (aiosmtpd) and a JSON
POST to a loopback webhook; failures are retried with backoff, given up, and visible."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from appliance.alarms import AlarmKind, raise_alarm
from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.health.daemon import HealthDaemon
from appliance.health.delivery import deliver_due, enqueue_new
from appliance.health.status import health_status
from appliance.models.health import AlarmDelivery
from appliance.models.media import CameraStatus
from appliance.settings import Settings
from tests.support.config import base_config
from tests.support.smtp import body_of, smtp_server, webhook_server


def _context(tmp_path: Path, clock: FakeClock, alarms: dict[str, object]) -> AppContext:
    data = base_config(tmp_path)
    data["alarms"] = alarms
    settings = Settings(**data)
    initialize(settings, clock, insecure_no_passphrase=True)
    return AppContext.open(settings, clock)


def test_a_camera_down_is_mailed_and_posted_without_personal_data(
    tmp_path: Path, clock: FakeClock
) -> None:
    with smtp_server() as inbox, webhook_server() as hook:
        alarms = {
            "camera_down_after_s": 60,
            "page_url": "https://cctv.clinic.example/health",
            "email": {
                "host": "127.0.0.1",
                "port": inbox.port,
                "sender": "cctv@clinic.example",
                "starttls": False,
                "recipients": {"camera_down": ["it@clinic.example"], "*": ["boss@clinic.example"]},
            },
            "webhook": {"url": hook.url, "kinds": ["camera_down"]},
        }
        ctx = _context(tmp_path, clock, alarms)
        try:
            now = clock.now_ms()
            with ctx.db.session() as session:
                session.add(
                    CameraStatus(
                        camera_id="cam02",
                        state="reconnecting",
                        reason="unreachable",
                        detail="connection refused",
                        since_ms=now,
                        updated_ms=now,
                    )
                )
            daemon = HealthDaemon(ctx)
            daemon.tick()
            # Not down long enough yet: only the fixture's keys_in_clear alarm, to "*".
            assert [rcpt for rcpt, _ in inbox.messages] == [["boss@clinic.example"]]
            clock.advance(timedelta(seconds=61))
            daemon.tick()
            down = [(r, m) for r, m in inbox.messages if "[camera:cam02]" in str(m["Subject"])]
            assert sorted(address for rcpt, _ in down for address in rcpt) == [
                "boss@clinic.example",
                "it@clinic.example",
            ]
            assert down[0][1]["From"] == "cctv@clinic.example"
            body = body_of(down[0][1])
            assert "https://cctv.clinic.example/health" in body and "카메라 녹화 중단" in body
            assert "connection refused" not in body and "1층 로비" not in body  # no message text
            assert [p["kind"] for p in hook.bodies] == ["camera_down"]
            assert hook.bodies[0]["subject"] == "camera:cam02"
            assert len(inbox.messages) == 3  # keys_in_clear to "*", camera_down to both
            sent = len(inbox.messages)
            daemon.tick()
            assert len(inbox.messages) == sent  # each alarm once
        finally:
            ctx.close()


def test_failed_deliveries_back_off_then_give_up_and_show(tmp_path: Path, clock: FakeClock) -> None:
    # Nothing listens on port 9 of loopback: every attempt fails at once.
    alarms = {
        "retry_base_s": 30,
        "retry_max_s": 60,
        "max_attempts": 3,
        "webhook": {"url": "http://127.0.0.1:9/hook", "timeout_s": 2},
    }
    ctx = _context(tmp_path, clock, alarms)
    try:
        with ctx.db.session() as session:
            raise_alarm(session, AlarmKind.vault_locked, "locked", clock.now_ms())
            enqueue_new(session, ctx.settings, clock.now_ms())
        waits = []
        for _ in range(3):
            assert deliver_due(ctx.db, clock, ctx.settings) == (0, 2)  # + keys_in_clear
            with ctx.db.session() as session:
                row = session.exec(select(AlarmDelivery)).first()
                assert row is not None
                waits.append(row.next_ms - clock.now_ms())
                assert row.last_error
            assert deliver_due(ctx.db, clock, ctx.settings) == (0, 0)  # not due yet
            clock.advance(timedelta(seconds=60))
        assert waits[:2] == [30_000, 60_000]
        shown = health_status(ctx).deliveries
        assert len(shown) == 2 and all(d.failed_ms is not None and d.attempts == 3 for d in shown)
        assert deliver_due(ctx.db, clock, ctx.settings) == (0, 0)  # given up: no more attempts
    finally:
        ctx.close()
