"""Run one purge cycle and SIGKILL this process at a purge step (for test_crash.py).

Usage: python -m tests.appliance.retention._crash_child SETTINGS_JSON NOW_MS STEP NTH
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from appliance.clock import FakeClock, from_ms
from appliance.context import AppContext
from appliance.retention import Retention
from appliance.settings import Settings


def main() -> None:
    settings_path, now_ms, step, nth = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    settings = Settings(**json.loads(Path(settings_path).read_text()))
    ctx = AppContext.open(settings, FakeClock(from_ms(now_ms)))
    seen = 0

    def hook(name: str, _job_id: int) -> None:
        nonlocal seen
        if name == step:
            seen += 1
            if seen == nth:
                os.kill(os.getpid(), signal.SIGKILL)

    Retention(ctx, hook=hook).run_cycle()
    sys.exit(3)  # the kill never came


if __name__ == "__main__":
    main()
