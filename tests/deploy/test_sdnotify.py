"""The notify protocol against a real unix datagram socket, and the supervisor's use of it:
READY=1 after every daemon started, WATCHDOG=1 only while nothing has stalled, STOPPING=1."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from appliance.daemons import Supervisor
from appliance.sdnotify import Notifier
from tests.support.notify import NotifyListener


class _Recorder:
    """A daemon that reports progress like the recorder; ``hung`` names what stopped."""

    name = "recorder"

    def __init__(self) -> None:
        self.hung: dict[str, float] = {}

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def alive(self) -> bool:
        return True

    def stalled(self) -> dict[str, float]:
        return dict(self.hung)


def test_messages_reach_a_path_and_an_abstract_socket(tmp_path: Path) -> None:
    with NotifyListener(tmp_path / "notify") as listener:
        notifier = Notifier({"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "3000000"})
        assert notifier.enabled and notifier.watchdog_interval_s == 1.5
        assert notifier.ready("up")
        message = listener.wait("READY", "1", timeout_s=5)
        assert message.fields["STATUS"] == "up"
    # Outside systemd every call is a no-op; a watchdog meant for another process is not ours.
    assert not Notifier({}).watchdog()
    other = Notifier({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1", "WATCHDOG_PID": "1"})
    assert other.watchdog_interval_s is None
    assert not other.watchdog()  # the socket is gone: logged, not raised
    mine = Notifier({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_interval_s == 1.0


def test_supervisor_withholds_pings_while_a_daemon_is_stalled(tmp_path: Path, ctx: Any) -> None:
    recorder = _Recorder()
    with NotifyListener(tmp_path / "notify") as listener:
        env = {"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "200000"}  # ping each 0.1 s
        supervisor = Supervisor(ctx, {"recorder": lambda _ctx: recorder}, Notifier(env))
        supervisor.start()
        listener.wait("READY", "1", timeout_s=5)
        runner = threading.Thread(target=supervisor.run_forever, kwargs={"poll_s": 1.0})
        runner.start()
        try:
            start = time.monotonic()
            time.sleep(0.6)
            assert len(listener.pings(start)) >= 3  # polled at half WatchdogSec, not each 1 s

            recorder.hung = {"camera cam01": 130.0}
            stalled = listener.wait("STATUS", "stalled: *", timeout_s=5, since=start)
            assert stalled.fields["STATUS"] == (
                "stalled: recorder: camera cam01 (no progress for 130 s)"
            )
            time.sleep(0.6)
            assert listener.pings(stalled.at + 0.01) == []

            recorder.hung["camera cam01"] = 131.0  # the same part: not told again
            time.sleep(0.3)
            assert [m for m in listener.messages(stalled.at + 0.01) if "STATUS" in m.fields] == []
            recorder.hung = {}
            resumed = listener.wait("STATUS", "running: recorder", timeout_s=5, since=stalled.at)
            time.sleep(0.5)
            assert len(listener.pings(resumed.at)) >= 2
        finally:
            supervisor.request_stop()
            runner.join(timeout=10)
        listener.wait("STOPPING", "1", timeout_s=5)
