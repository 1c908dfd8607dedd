"""Status reasons from real connection failures, and the backoff schedule."""

from __future__ import annotations

import socket

import av
import pytest

from recorder.status import FailReason, classify_error, redact_credentials
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
