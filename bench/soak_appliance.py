"""The appliance process under the soak (bench/soak.py): ``appliance run`` started and stopped as a
systemd unit would (SIGTERM), with the threads' stacks dumped by py-spy when a stop or a start is
slow (the log says nothing while it waits), and its commands run after the soak.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.playback import Site

__all__ = ["run_command", "start", "stop"]


def _stacks(pid: int, path: Path) -> None:
    """Where the appliance's threads are (py-spy), when a stop or start is slow: the log says
    nothing while it waits."""
    spy = Path(sys.executable).with_name("py-spy")
    if spy.exists():
        with path.open("ab") as out:
            out.write(f"--- {time.strftime('%H:%M:%S')}\n".encode())
            command = [str(spy), "dump", "--native", "--pid", str(pid)]
            subprocess.run(command, stdout=out, stderr=out, timeout=60, check=False)


def stop(proc: subprocess.Popen[bytes], root: Path) -> tuple[int | None, float]:
    """SIGTERM; (exit code, seconds to exit); stacks dumped after 5 and 15 s; killed after 90 s
    (code None)."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    for wait_s in (5, 10):
        try:
            return proc.wait(wait_s), time.monotonic() - started
        except subprocess.TimeoutExpired:
            _stacks(proc.pid, root / "slow-stop.txt")
    try:
        return proc.wait(75), time.monotonic() - started
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, time.monotonic() - started


def start(site: Site, timeout_s: float = 300.0) -> subprocess.Popen[bytes]:
    """``appliance run`` (every daemon) until its health route answers; stacks dumped if that
    takes over 30 s (bench/playback.start_appliance gives up after 60 s: too short here)."""
    log = (site.root / "appliance.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from appliance.cli import app; app()", "run",
         "--config", str(site.config)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    started = time.monotonic()
    dumped = False
    while time.monotonic() - started < timeout_s:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{site.base_url}/api/health", timeout=2).status_code == 200:
                return proc
        if proc.poll() is not None:
            break
        if not dumped and time.monotonic() - started > 30:
            _stacks(proc.pid, site.root / "slow-start.txt")
            dumped = True
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the appliance did not start; see {site.root / 'appliance.log'}")


def run_command(site: Site, *command: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-c", "from appliance.cli import app; app()", *command,
         "--config", str(site.config)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return proc.returncode, " / ".join(lines[-3:])
