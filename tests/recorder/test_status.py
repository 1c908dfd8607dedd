"""Status reasons from real connection failures, and the backoff schedule."""

from __future__ import annotations

import socket
import sqlite3
from typing import Any

import av
import pytest

from appliance.context import AppContext
from appliance.models.media import CameraStatus
from appliance.recorder_state import CameraState
from recorder.status import FailReason, StatusBoard, classify_error, redact_credentials
from recorder.worker import SLOW_RETRY_S, backoff_s


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_connection_is_unreachable() -> None:
    with pytest.raises(Exception) as caught:
        av.open(f"rtsp://127.0.0.1:{_closed_port()}/x", options={"rtsp_transport": "tcp"})
    assert classify_error(caught.value) is FailReason.unreachable


def test_silent_server_times_out_as_unreachable() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # accepts the TCP connection, never answers RTSP
        port = server.getsockname()[1]
        with pytest.raises(Exception) as caught:
            av.open(
                f"rtsp://127.0.0.1:{port}/x",
                options={"rtsp_transport": "tcp", "timeout": "500000"},
                timeout=(1.0, 1.0),
            )
    assert classify_error(caught.value, opening=True) is FailReason.unreachable


def test_camera_passwords_never_reach_the_status() -> None:
    message = "Server returned 401 Unauthorized: 'rtsp://admin:s3cret@10.0.0.5:554/ch1'"
    assert redact_credentials(message) == (
        "Server returned 401 Unauthorized: 'rtsp://***@10.0.0.5:554/ch1'"
    )
    assert redact_credentials("rtsp://10.0.0.5/x") == "rtsp://10.0.0.5/x"


def test_other_errors() -> None:
    assert classify_error(ValueError("x")) is FailReason.stream_error
    assert classify_error(TimeoutError()) is FailReason.unreachable


def test_backoff_is_capped_and_slow_for_hopeless_reasons() -> None:
    delays = [backoff_s(i, 2.0, FailReason.unreachable) for i in range(8)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    assert backoff_s(0, 2.0, FailReason.unauthorized) == SLOW_RETRY_S


def test_a_status_write_that_failed_is_written_at_the_next_segment(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under heavy load SQLite answered "database is locked" to the write of "recording": the
    row kept saying "starting" while the camera recorded (issue 16's bench saw it). The next
    indexed segment writes it again."""
    camera_id = ctx.settings.cameras[0].id
    board = StatusBoard(ctx.db, ctx.clock)
    board.set(camera_id, CameraState.starting)
    real_session = ctx.db.session
    failures = iter([True])

    def session() -> Any:
        if next(failures, False):
            raise sqlite3.OperationalError("database is locked")
        return real_session()

    monkeypatch.setattr(ctx.db, "session", session)
    board.set(camera_id, CameraState.recording, run_id=None)
    with real_session() as db:
        row = db.get(CameraStatus, camera_id)
        assert row is not None and row.state == "starting"
    board.segment_indexed(camera_id, 1_000)
    with real_session() as db:
        row = db.get(CameraStatus, camera_id)
        assert row is not None and row.state == "recording"
