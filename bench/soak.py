"""Soak (issue 18): 30 cameras for 30 minutes on loopback with the purge on a short retention day,
10 viewers coming and going, cameras cut and restored, and one restart of the appliance.

    .venv/bin/python -m bench.soak                 # 30 minutes (about 33 with set-up and checks)
    .venv/bin/python -m bench.soak --minutes 5     # a quick run

Everything is real and on loopback: the camera simulator (recorder.sim; 1080p 4 Mbit/s 25 fps,
GOP 2 s, in four variants: H.264, H.264 with 3 B-frames, H.265 with 3 B-frames, H.264 with AAC
audio, which the recorder reads through FFmpeg) and ``appliance run`` as a subprocess with a
generated configuration, whose retention day is ``--day-s`` seconds (``retention.day_s``; groups
keep footage 1 such day), so the real retention daemon purges footage during the run. The
soak, in this process:

- 10 viewers (bench/soak_viewers.py) sign in through the web server, watch live view and play
  recorded footage with a purpose, sign out, come back;
- every ``--cut-every`` seconds a camera (the variants in turn) is cut for 15-45 s
  (``stop_camera``) and restored; ``alarms.camera_down_after_s`` is 20 s so long cuts alarm;
- at 40 % of the run the appliance gets SIGTERM and is started again;
- the appliance's RSS is sampled every 5 s; a scanner decrypts each new segment before the purge
  destroys it (bench/soak_frames.py), for lost frames and, with the destruction records, the
  purge lag;
- at the end: SIGTERM, then ``appliance ledger verify`` and ``appliance fsck``.

The parts: bench/soak_viewers.py (the staff), bench/soak_frames.py (what was recorded and
destroyed), bench/soak_appliance.py (the process: start, SIGTERM, stacks when slow, its commands).
This module keeps the schedule (cuts, restart) and the report, which share the run's state.

Targets (issue 18): 0 frames lost outside the cuts (and the restart's downtime), memory growth
< 10 % (each process: the mean RSS over 30 s after the warm-up against the last 30 s), purge lag
< 60 s (max and p95), ledger and fsck clean. Each prints figures, the ratio to its target and
PASS/FAIL. The machine's load is printed: it is shared.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from appliance.access import AccessService, Principal
from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.models import Alarm, Role
from appliance.retention.policy import Rule
from appliance.settings import Settings
from bench.ingest import SIM, rss_mb, wait_recording
from bench.playback import PASSWORD, Site, free_port
from bench.soak_appliance import run_command
from bench.soak_appliance import start as start_appliance
from bench.soak_appliance import stop as stop_appliance
from bench.soak_frames import (
    Event,
    FrameFigures,
    PurgeFigures,
    Scanner,
    frame_figures,
    purge_figures,
)
from bench.soak_viewers import Stage, ViewerStats, run_viewer
from recorder.sim import CameraSimulator, SimCamera
from tests.support.config import to_toml
from tests.support.recorder import camera_entry, recorder_config

__all__ = ["main"]

TARGET_LOST = 0
TARGET_GROWTH_PCT = 10.0
TARGET_LAG_S = 60.0
VARIANTS: dict[str, dict[str, Any]] = {
    "h264": {},
    "h264-b": {"bframes": 3},
    "h265-b": {"codec": "h265", "bframes": 3},
    "h264-audio": {"audio": True},
}
# Of every 10 cameras: 6 plain H.264, 2 with B-frames, 1 H.265, 1 with audio.
PATTERN = ["h264"] * 6 + ["h264-b"] * 2 + ["h265-b", "h264-audio"]


def variant_of(index: int) -> str:
    return PATTERN[(index - 1) % len(PATTERN)]


@dataclass
class Soak:
    """The run's state shared by its threads."""

    site: Site
    proc: subprocess.Popen[bytes]
    events: list[Event] = field(default_factory=list)
    rss: list[tuple[float, int, float]] = field(default_factory=list)  # (monotonic, pid, MB)
    restart_window: tuple[float, float] | None = None  # monotonic, while it restarts
    restart: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def near_restart(self) -> bool:
        """While it restarts and for 60 s after it answers (cameras reconnecting)."""
        window = self.restart_window
        return window is not None and window[0] <= time.monotonic() <= window[1] + 60

    def restarting(self) -> bool:
        window = self.restart_window
        now = time.monotonic()
        return window is not None and window[0] <= now <= window[1] + 10


def _prepare(root: Path, sim: CameraSimulator, cameras: int, viewers: int, args: Any) -> Site:
    entries = []
    for i in range(1, cameras + 1):
        group = "soak-audio" if VARIANTS[variant_of(i)].get("audio") else "soak"
        entries.append(camera_entry(f"cam{i:02d}", sim.url(f"cam{i:02d}"), group))
    port = free_port()
    data = recorder_config(
        root, entries, segment_target_s=args.segment_s, reconnect_max_backoff_s=2.0
    )
    data["groups"] = [
        {"name": "soak", "min_days": 0, "max_days": 1},
        {"name": "soak-audio", "min_days": 0, "max_days": 1, "audio_allowed": True,
         "audio_consent_ref": "동의서 soak-001"},
    ]  # fmt: skip
    data["retention"] = {"day_s": args.day_s}
    data["alarms"] = {"camera_down_after_s": 20, "check_interval_s": 5.0}
    data["server"] = {"host": "127.0.0.1", "port": port}
    settings = Settings(**data)
    clock = SystemClock()
    initialize(settings, clock, insecure_no_passphrase=True)
    config = root / "appliance.toml"
    config.write_text(to_toml(data), encoding="utf-8")
    ctx = AppContext.open(settings, clock)
    try:
        access = AccessService(ctx.db, clock, settings.server, ctx.ledger)
        names = []
        for v in range(1, viewers + 1):
            user, _ = access.create_user(
                Principal.local("soak"), username=f"staff{v}", role=Role.viewer,
                display_name=f"직원 {v}", password=PASSWORD,
            )  # fmt: skip
            assert user.id is not None
            access.change_grants(Principal.local("soak"), user.id, add=[e["id"] for e in entries])
            names.append(user.username)
    finally:
        ctx.close()
    return Site(root, data, config, port, 0, 0, names)


def _sample_rss(soak: Soak, stop: threading.Event) -> None:
    while not stop.wait(5.0):
        proc = soak.proc
        with contextlib.suppress(OSError):  # between the two processes
            soak.rss.append((time.monotonic(), proc.pid, rss_mb(proc.pid)))


def _cuts(
    soak: Soak,
    sim: CameraSimulator,
    stage: Stage,
    args: Any,
    t0: float,
    stop_at: float,
    stop: threading.Event,
) -> None:
    """Cut a camera every ``--cut-every`` s for 15-45 s, variants in turn, none over the
    restart; all restored by the end."""
    rng = random.Random(18)
    order = sorted(sim.cameras, key=lambda c: (PATTERN.index(variant_of(int(c[3:]))), c))
    by_variant: dict[str, list[str]] = {}
    for cam in order:
        by_variant.setdefault(variant_of(int(cam[3:])), []).append(cam)
    turn = 0
    restore: dict[str, float] = {}
    restart_at = t0 + args.restart_at * args.minutes * 60
    next_cut = t0 + args.cut_every
    while time.monotonic() < stop_at and not stop.is_set():
        now = time.monotonic()
        for cam, when in list(restore.items()):
            if now >= when:
                sim.start_camera(cam)
                del restore[cam]
                stage.cut.discard(cam)
                with soak.lock:
                    soak.events.append(_closed(soak.events, cam))
        # No cut across the restart (up to 45 s long, one whole cut before it or after).
        far_from_restart = not restart_at - 50 < now < restart_at + 40 and not soak.near_restart()
        if now >= next_cut and now < stop_at - 50 and far_from_restart and len(restore) < 3:
            names = list(VARIANTS)
            pool = [c for c in by_variant[names[turn % len(names)]] if c not in restore]
            turn += 1
            if pool:
                cam = rng.choice(pool)
                stage.cut.add(cam)
                sim.stop_camera(cam)
                at = int(time.time() * 1000)
                with soak.lock:
                    soak.events.append(Event("cut", cam, at, 0))
                restore[cam] = now + rng.uniform(15, 45)
                print(f"... cut {cam} ({variant_of(int(cam[3:]))}) at {now - t0:.0f} s", flush=True)
            next_cut = now + args.cut_every
        time.sleep(0.5)
    for cam in restore:
        sim.start_camera(cam)
        with soak.lock:
            soak.events.append(_closed(soak.events, cam))


def _closed(events: list[Event], cam: str) -> Event:
    """The open cut of ``cam``, ended now (it is removed from ``events``)."""
    cut = next(e for e in reversed(events) if e.camera_id == cam and e.end_ms == 0)
    events.remove(cut)
    return Event("cut", cam, cut.start_ms, int(time.time() * 1000))


def _restart(soak: Soak) -> None:
    """SIGTERM, wait for the exit, start again, until it answers."""
    soak.restart_window = (time.monotonic(), time.monotonic() + 3600)
    sigterm_ms = int(time.time() * 1000)
    code, stop_s = stop_appliance(soak.proc, soak.site.root)
    started = time.monotonic()
    soak.proc = start_appliance(soak.site)
    ready_ms = int(time.time() * 1000)
    soak.restart_window = (soak.restart_window[0], time.monotonic())
    with soak.lock:
        soak.events.append(Event("restart", None, sigterm_ms, ready_ms))
    soak.restart.update(
        exit_code=code, stop_s=stop_s, start_s=time.monotonic() - started,
        down_s=(ready_ms - sigterm_ms) / 1000, at_ms=sigterm_ms,
    )  # fmt: skip


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    cameras = [
        SimCamera(id=f"cam{i:02d}", **VARIANTS[variant_of(i)]) for i in range(1, args.cameras + 1)
    ]
    figures: dict[str, Any] = {}
    with CameraSimulator(cameras, **SIM) as sim:
        site = _prepare(root, sim, args.cameras, args.viewers, args)
        settings = Settings(**site.data)
        soak = Soak(site, start_appliance(site))
        ctx = AppContext.open(settings, SystemClock())
        scanner = Scanner(ctx)
        stop = threading.Event()
        threads: list[threading.Thread] = []
        try:
            wait_recording(settings, args.cameras, 180.0)
            t0 = time.monotonic()
            stop_at = t0 + args.minutes * 60
            figures["start_ms"] = int(time.time() * 1000)
            scanner.start()
            stage = Stage(
                site.base_url, PASSWORD, [c.id for c in cameras],
                {c.id for c in cameras if c.codec == "h265"}, args.day_s * 1000, stop_at,
                restarting=soak.restarting,
            )  # fmt: skip
            viewers = ViewerStats()
            threads = [
                threading.Thread(target=_sample_rss, args=(soak, stop), daemon=True),
                threading.Thread(target=_cuts, args=(soak, sim, stage, args, t0, stop_at, stop)),
                *(
                    threading.Thread(target=run_viewer, args=(i, name, stage, viewers), daemon=True)
                    for i, name in enumerate(site.viewers)
                ),
            ]
            for thread in threads:
                thread.start()
            time.sleep(max(0.0, t0 + args.restart_at * args.minutes * 60 - time.monotonic()))
            print(f"... restart at {time.monotonic() - t0:.0f} s", flush=True)
            _restart(soak)
            while time.monotonic() < stop_at:
                time.sleep(1.0)
            for thread in threads[1:]:
                thread.join(120)
        finally:
            stop.set()
            end_ms = int(time.time() * 1000)
            code, stop_s = stop_appliance(soak.proc, root)
            soak.events.append(Event("stop", None, end_ms, end_ms))
            scanner.stop()
        scanner.poll()  # what the last SIGTERM indexed
        figures.update(end_ms=end_ms, final_exit=code, final_stop_s=stop_s)
        figures["frames"] = frame_figures(scanner.facts, soak.events)
        rule = Rule(0, 1, args.day_s * 1000)
        restart = next((e for e in soak.events if e.kind == "restart"), None)
        down = None if restart is None else (restart.start_ms, restart.end_ms)
        figures["purge"] = purge_figures(
            ctx, scanner.facts, scanner.vanished_ms, end_ms, rule, down
        )
        figures["unreadable"] = scanner.unreadable
        figures["alarms"] = _alarms(ctx, figures["start_ms"], restart)
        ctx.close()
    figures.update(restart=soak.restart, viewers=viewers, events=soak.events)
    figures["memory"] = _memory(soak, args)
    figures["ledger"] = run_command(site, "ledger", "verify")
    figures["fsck"] = run_command(site, "fsck")
    return figures


def _alarms(
    ctx: AppContext, since_ms: int, restart: Event | None
) -> dict[str, tuple[int, int, int]]:
    """Kind -> (raised since the start, still open at the end, raised within a minute after
    the restart's SIGTERM)."""
    with ctx.db.session() as session:
        rows = session.exec(select(Alarm).where(col(Alarm.last_ms) >= since_ms)).all()
    raised: Counter[str] = Counter(a.kind for a in rows)
    still: Counter[str] = Counter(a.kind for a in rows if a.cleared_ms is None)
    near: Counter[str] = Counter(
        a.kind
        for a in rows
        if restart is not None and restart.start_ms <= a.raised_ms <= restart.end_ms + 60_000
    )
    return {kind: (raised[kind], still[kind], near[kind]) for kind in sorted(raised)}


def _memory(soak: Soak, args: argparse.Namespace) -> list[dict[str, float]]:
    """Per appliance process: mean RSS over 30 s after its warm-up, and over its last 30 s."""
    out = []
    for pid in dict.fromkeys(p for _, p, _ in soak.rss):
        series = [(t, mb) for t, p, mb in soak.rss if p == pid]
        first = series[0][0]
        warm = [mb for t, mb in series if first + args.warmup_s <= t < first + args.warmup_s + 30]
        last = [mb for t, mb in series if t >= series[-1][0] - 30]
        if not warm or series[-1][0] - first < args.warmup_s + 60:
            out.append({"pid": pid, "short": 1.0, "end_mb": statistics.mean(last)})
            continue
        begin, end = statistics.mean(warm), statistics.mean(last)
        out.append({
            "pid": pid, "warm_mb": begin, "end_mb": end, "peak_mb": max(mb for _, mb in series),
            "growth_pct": 100 * (end - begin) / begin, "minutes": (series[-1][0] - first) / 60,
        })  # fmt: skip
    return out


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(f: dict[str, Any], args: argparse.Namespace, load: tuple[float, ...]) -> bool:
    frames: FrameFigures = f["frames"]
    purge: PurgeFigures = f["purge"]
    viewers: ViewerStats = f["viewers"]
    cuts = [e for e in f["events"] if e.kind == "cut"]
    print(f"\nsoak: {args.cameras} cameras for {args.minutes:g} min, {args.viewers} viewers,"
          f" retention day {args.day_s} s, {args.segment_s} s segments; {len(cuts)} cuts"
          f" ({', '.join(sorted({variant_of(int(e.camera_id[3:])) for e in cuts}))}),"
          f" restart at {args.restart_at:.0%}")  # fmt: skip
    r = f["restart"]
    print(f"restart: SIGTERM -> exit {r.get('exit_code')} in {r.get('stop_s', 0):.1f} s, start"
          f" {r.get('start_s', 0):.1f} s, down {r.get('down_s', 0):.1f} s; final stop: exit"
          f" {f['final_exit']} in {f['final_stop_s']:.1f} s")  # fmt: skip
    ok = []
    print(f"frames stored {frames.frames} in {frames.segments} segments;"
          f" lost outside the cuts {frames.lost}: inside runs {frames.lost_inside_runs},"
          f" unexplained gaps {frames.lost_unexplained_gaps}, tails before a cut/stop"
          f" {frames.lost_tails}; unreadable segments {len(f['unreadable'])}")  # fmt: skip
    for line in (frames.unexplained + frames.tails + f["unreadable"])[:10]:
        print(f"  {line}")
    resume = frames.resume_after_cut_ms
    if resume:
        print(f"  after a cut, first frame {statistics.median(resume) / 1000:.1f} s (median),"
              f" {max(resume) / 1000:.1f} s (max) after the camera came back"
              f" ({frames.frames_in_cut_reconnect} frames, counted with the cuts)")  # fmt: skip
    again = frames.resume_after_restart_ms
    if again:
        ready = frames.resume_after_ready_ms
        print(f"  restart: first frame {statistics.median(again) / 1000:.1f} s (median),"
              f" {max(again) / 1000:.1f} s (max) after SIGTERM, {max(ready) / 1000:.1f} s (max)"
              f" after it answered ({frames.frames_during_restart} frames not recorded while"
              " down)")  # fmt: skip
    lost_ok = frames.lost <= TARGET_LOST and not f["unreadable"]
    ok.append(lost_ok)
    print(
        f"{_verdict(lost_ok)} frames lost outside the cuts: {frames.lost}"
        f" (target {TARGET_LOST}; {frames.lost / max(1, frames.frames):.2e} of stored)"
    )
    for m in f["memory"]:
        if "short" in m:
            print(f"memory pid {m['pid']:.0f}: too short for a growth figure (end"
                  f" {m['end_mb']:.0f} MB)")  # fmt: skip
            continue
        grow_ok = m["growth_pct"] < TARGET_GROWTH_PCT
        ok.append(grow_ok)
        print(f"{_verdict(grow_ok)} memory pid {m['pid']:.0f} over {m['minutes']:.1f} min:"
              f" {m['warm_mb']:.0f} -> {m['end_mb']:.0f} MB (peak {m['peak_mb']:.0f}),"
              f" {m['growth_pct']:+.1f} % (target < {TARGET_GROWTH_PCT:.0f} %:"
              f" {m['growth_pct'] / TARGET_GROWTH_PCT:.2f} x)")  # fmt: skip
    lag_ok = bool(purge.lags_ms) and purge.max_ms / 1000 < TARGET_LAG_S and not purge.unmatched
    ok.append(lag_ok)
    print(f"{_verdict(lag_ok)} purge lag over {purge.purged} purged segments"
          f" ({purge.records} destruction records, {purge.overdue_at_end} overdue at the end,"
          f" {purge.unmatched} unmatched): max {purge.max_ms / 1000:.1f} s, p95"
          f" {purge.p95_ms / 1000:.1f} s (target < {TARGET_LAG_S:.0f} s:"
          f" {purge.max_ms / 1000 / TARGET_LAG_S:.2f} x)")  # fmt: skip
    if purge.through_restart_ms:
        others = sorted(purge.lags_ms)
        for lag in purge.through_restart_ms:
            others.remove(lag)
        print(f"  {len(purge.through_restart_ms)} of them waited through the restart (no purge"
              f" while it is down): max {max(purge.through_restart_ms) / 1000:.1f} s; the others"
              f" max {max(others, default=0) / 1000:.1f} s")  # fmt: skip
    alarms = f["alarms"].items()
    print("alarms (kind: raised, of which around the restart, still open at the end): "
          + (", ".join(f"{k}: {n}, {r}, {o}" for k, (n, o, r) in alarms) or "none"))  # fmt: skip
    for name in ("ledger", "fsck"):
        code, summary = f[name]
        ok.append(code == 0)
        print(f"{_verdict(code == 0)} {name}: exit {code}: {summary}")
    c = viewers.counts
    print(f"viewers: {c['sign_in']} sign-ins, {c['live_ok']} live and {c['rec_ok']} recorded"
          f" streams, {viewers.bytes / 1e6:.0f} MB; first byte median live"
          f" {_median(viewers.first_bytes_ms['live']):.0f} ms, recorded"
          f" {_median(viewers.first_bytes_ms['rec']):.0f} ms; errors {dict(viewers.errors)};"
          f" during the restart {dict(viewers.restart_errors)}")  # fmt: skip
    for sample in viewers.samples[:4]:
        print(f"  {sample}")
    print(f"load average before {load}, after {os.getloadavg()} (2 cores, shared)")
    verdict = all(ok)
    print(f"{_verdict(verdict)} soak")
    return verdict


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--cameras", type=int, default=30)
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--day-s", type=int, default=180, help="retention.day_s (>= 60)")
    parser.add_argument("--segment-s", type=int, default=60, help="recorder.segment_target_s")
    parser.add_argument("--cut-every", type=float, default=None, help="s (default: run / 12)")
    parser.add_argument("--restart-at", type=float, default=0.4, help="fraction of the run")
    parser.add_argument("--warmup-s", type=float, default=None, help="default: 10 %%, <= 120")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (printed)")
    args = parser.parse_args(argv)
    args.cut_every = args.cut_every or args.minutes * 60 / 12
    args.warmup_s = args.warmup_s if args.warmup_s is not None else min(120, args.minutes * 6)
    load = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    try:
        passed = report(run(args, root), args, load)
    finally:
        if args.keep:
            print(f"data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
