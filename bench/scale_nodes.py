"""Scale-out bench, the nodes part (issue 19): the most cameras two recorder nodes on this
machine record with no lost frame, on one PostgreSQL database.

    .venv/bin/python -m bench.scale_nodes                       # steps 40,80,120,160
    .venv/bin/python -m bench.scale_nodes --steps 60,100 --window 20

(``bench/scale.py --part nodes`` runs this; the object-store part is ``--part store``.)

Per step: a simulator serving N cameras (1080p H.264 4 Mbit/s, bench.ingest's), a throw-away
PostgreSQL server (tests.support.postgres), and two ``appliance run --only recorder`` processes
with ``[node] id`` rec-a and rec-b sharing one data dir; cameras are balanced by the leases. After
every camera records, a steady window; then both stop cleanly and every stored frame is located
in the clip the simulator loops (``bench.ingest.lost_frames``): a frame missing inside a run is
lost. The baseline, measured in the same run at the first step: one single-box recorder (no
``[node]``) on the same cameras; the ratio is the two nodes' CPU against it (the cost of leases,
heartbeats and the fence). The simulator shares the 2 cores, as in bench.ingest.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlmodel import select

from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.models.nodes import CameraLease
from appliance.nodes import desired_owners
from appliance.settings import Settings
from bench.ingest import SIM, Window, lost_frames, measure, wait_recording
from recorder.sim import CameraSimulator
from tests.support.config import to_toml
from tests.support.postgres import PostgresServer
from tests.support.recorder import camera_entry, recorder_config

__all__ = ["main", "run_nodes"]


def _config(sim: CameraSimulator, cameras: int, root: Path, url: str) -> dict[str, object]:
    entries = [camera_entry(f"cam{i:03d}", sim.url(f"cam{i}")) for i in range(1, cameras + 1)]
    data = recorder_config(root, entries, segment_target_s=60)
    data["database"] = {"url": url}
    return data


def _start(data: dict[str, object], root: Path, name: str) -> subprocess.Popen[bytes]:
    config = root / f"{name}.toml"
    config.write_text(to_toml(data), encoding="utf-8")
    with (root / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", "from appliance.cli import app; app()", "run", "--only",
             "recorder", "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _wait_settled(settings: Settings, nodes: list[str], timeout_s: float) -> None:
    """Until every lease is held by the node the assignment gives it (the cold start's
    handbacks done), so the window measures steady recording."""
    wanted = desired_owners({c.id: "" for c in settings.cameras}, nodes)
    ctx = AppContext.open(settings, SystemClock())
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with ctx.db.session() as session:
                held = {r.camera_id: r.node_id for r in session.exec(select(CameraLease)).all()}
            if all(held.get(c) == n for c, n in wanted.items()):
                time.sleep(3)  # the new holders' first key frames
                return
            time.sleep(0.5)
        raise RuntimeError(f"the leases did not settle on {nodes} in {timeout_s:.0f} s")
    finally:
        ctx.close()


def run_nodes(
    sim: CameraSimulator, pg: PostgresServer, cameras: int, nodes: list[str], window_s: float
) -> tuple[Window, int, int, int]:
    """Record ``cameras`` on ``nodes`` (empty: one single-box recorder); (window, stored,
    lost, fewest frames a camera stored in the window)."""
    with tempfile.TemporaryDirectory(prefix="scale-nodes-") as tmp:
        root = Path(tmp)
        data = _config(sim, cameras, root, pg.create_database())
        settings = Settings(**data)  # type: ignore[arg-type]
        initialize(settings, SystemClock(), insecure_no_passphrase=True)
        procs = [
            _start(data | {"node": {"id": node, "handback_after_s": 0}}, root, node)
            for node in nodes
        ] or [_start(data, root, "single")]
        try:
            if nodes:
                _wait_settled(settings, nodes, 240)
            wait_recording(settings, cameras, 240)
            window = measure([p.pid for p in procs], 5, window_s)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(120)
        ctx = AppContext.open(settings, SystemClock())
        try:
            stored, lost, fewest = lost_frames(ctx, cameras, window)
        finally:
            ctx.close()
    return window, stored, lost, fewest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="40,80,120,160", help="camera counts to try")
    parser.add_argument("--window", type=float, default=20.0, help="steady window, seconds")
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",") if s]
    print(f"cameras: {SIM['width']}x{SIM['height']} H.264 {SIM['bitrate_kbps']} kbit/s 25 fps")
    pg = PostgresServer()
    pg.start()
    best = 0
    try:
        with CameraSimulator(max(steps), **SIM) as sim:
            base, *_ = run_nodes(sim, pg, steps[0], [], args.window)
            print(
                f"baseline: one single-box recorder, {steps[0]} cameras: CPU "
                f"{base.cpu_pct:.1f} % of a core, simulator {base.sim_cpu_pct:.1f} %"
            )
            for count in steps:
                started = time.monotonic()
                try:
                    win, stored, lost, fewest = run_nodes(sim, pg, count, ["rec-a", "rec-b"],
                                                          args.window)  # fmt: skip
                except RuntimeError as exc:  # not every camera came up: past the limit
                    print(f"two nodes, {count} cameras: {exc}")
                    break
                ratio = (
                    f", {win.cpu_pct / base.cpu_pct:.2f} x baseline" if count == steps[0] else ""
                )
                print(f"two nodes, {count} cameras: CPU {win.cpu_pct:.1f} % of a core{ratio}, "
                      f"RSS {win.rss_mb:.0f} MB, simulator {win.sim_cpu_pct:.1f} %; frames "
                      f"stored {stored}, lost {lost}, fewest in the window {fewest} of "
                      f"{args.window * 25:.0f} ({time.monotonic() - started:.0f} s)")  # fmt: skip
                if lost or fewest < args.window * 25 - 2:
                    break
                best = count
    finally:
        pg.stop()
    print(f"most cameras two nodes recorded with no lost frame: {best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
