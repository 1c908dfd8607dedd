"""Playback benchmark: time to first byte, one viewer's serve rate, 10 viewers while 30 record,
H.265 transcoding speed, and live-view latency.

    .venv/bin/python -m bench.playback                  # everything (about 4 minutes)
    .venv/bin/python -m bench.playback --window 30      # shorter concurrency window
    .venv/bin/python -m bench.playback --only-live      # live start and H.265 live (1 min)

Footage: the camera simulator's clip (1080p H.264 at 4 Mbit/s, 25 fps, a key frame every 2 s),
sealed into real encrypted 60 s segments the way the recorder writes them: 10 minutes of
history on a camera the recorder does not record, plus 2 minutes of 1080p H.265.

1. The appliance runs as ``appliance run --only web`` in its own process; the bench is the HTTP
   client over loopback. Time to first byte (TTFB) of ``GET /api/viewing/{id}/media`` at random
   positions (each request decrypts its first segment from the start: the worst case is a
   position late in a 60 s segment), and of opening the session (``POST /api/viewing``, which
   writes the ledger entry first). Baseline: the target, 200 ms.
2. One viewer streams the whole 10 minutes: MB/s and how many times faster than real time.
3. ``appliance run --only recorder --only web`` with 30 simulated cameras; 10 viewers stream
   random 60 s ranges of history at full speed for the window. The recorder must lose no frame
   (every stored frame located in the simulator's clip, as bench/ingest.py does).
4. H.265 is transcoded to H.264 in memory: frames per second and the ratio to real time (25).
5. Live view (recorder, web server and client in this process, as under ``appliance run``):
   for each fragment, the delay from the recorder publishing its first sample to the client
   holding the whole fragment. Camera-to-recorder (RTSP) and the browser's buffer come on top.
6. Live start (bench/live_view.py): time to first picture at random moments of the 2 s GOP,
   with the fan-out's cached GOP and without; the H.265 live transcode's CPU per camera (the
   shared encoder) and per viewer.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx

from appliance.access import AccessService, Principal
from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.media._nal import annexb_to_length_prefixed
from appliance.models import Role
from appliance.settings import Settings
from bench.ingest import SIM, TICKS_S, Window, cpu_ticks, lost_frames
from bench.live_view import phase_live_start, phase_live_transcode
from recorder.sim import CameraSimulator
from recorder.sim._clips import prepare_clip
from tests.support.config import to_toml
from tests.support.footage import store_clip
from tests.support.recorder import camera_entry, recorder_config

TARGET_TTFB_MS = 200.0
FPS = 25
HISTORY_MIN = 10
PASSWORD = "bench password 123"
Clip = list[tuple[bytes, bool]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sim_clip(codec: str) -> Clip:
    """The simulator's 10 s clip as (access unit, key) pairs."""
    clip = prepare_clip(
        None, "h264" if codec == "h264" else "h265", SIM["width"], SIM["height"],
        SIM["bitrate_kbps"], FPS, SIM["gop_s"], SIM["clip_duration_s"], False,
    )  # fmt: skip
    data = b"".join(p.read_bytes() for p in clip.video_files())
    fmt = "h264" if codec == "h264" else "hevc"
    with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as tmp:
        tmp.write(data)
        tmp.flush()
        with av.open(tmp.name, format=fmt) as container:
            return [(bytes(p), p.is_keyframe) for p in container.demux(video=0) if p.size]


@dataclass
class Site:
    root: Path
    data: dict[str, Any]
    config: Path
    port: int
    history_start_ms: int
    hevc_start_ms: int
    viewers: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def prepare(root: Path, sim: CameraSimulator | None, cameras: int, viewers: int) -> Site:
    """Config, keys, database, accounts and sealed history footage."""
    entries = [
        camera_entry(f"cam{i:03d}", sim.url(f"cam{i}") if sim else f"rtsp://127.0.0.1:9/c{i}")
        for i in range(1, cameras + 1)
    ]
    for name in ("hist264", "hist265"):  # history only: the recorder leaves them alone
        entries.append({**camera_entry(name, "rtsp://127.0.0.1:9/none"), "enabled": False})
    port = free_port()
    data = recorder_config(root, entries, segment_target_s=60)
    data["server"] = {"host": "127.0.0.1", "port": port}
    settings = Settings(**data)
    clock = SystemClock()
    initialize(settings, clock, insecure_no_passphrase=True)
    config = root / "appliance.toml"
    config.write_text(to_toml(data), encoding="utf-8")
    ctx = AppContext.open(settings, clock)
    try:
        now = clock.now_ms()
        history_start = now - 3_600_000
        h264 = sim_clip("h264")
        minute = h264 * (60 // SIM["clip_duration_s"])
        for m in range(HISTORY_MIN):
            store_clip(
                ctx, minute, camera_id="hist264", start_ms=history_start + m * 60_000,
                segment_frames=len(minute),
            )  # fmt: skip
        del minute, h264
        hevc = sim_clip("h265") * (60 // SIM["clip_duration_s"])
        hevc_start = now - 1_800_000
        for m in range(2):
            store_clip(
                ctx, hevc, camera_id="hist265", start_ms=hevc_start + m * 60_000,
                codec="hevc", segment_frames=len(hevc),
            )  # fmt: skip
        access = AccessService(ctx.db, clock, settings.server, ctx.ledger)
        root_principal = Principal.local("bench")
        names = []
        for v in range(1, viewers + 1):
            user, _ = access.create_user(
                root_principal, username=f"viewer{v}", role=Role.viewer,
                display_name=f"Viewer {v}", password=PASSWORD,
            )  # fmt: skip
            assert user.id is not None
            access.change_grants(root_principal, user.id, add=["hist264", "hist265", "cam001"])
            names.append(user.username)
    finally:
        ctx.close()
    return Site(root, data, config, port, history_start, hevc_start, names)


def start_appliance(site: Site, services: list[str]) -> subprocess.Popen[bytes]:
    only = [arg for s in services for arg in ("--only", s)]
    log = (site.root / "appliance.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from appliance.cli import app; app()", "run", *only,
         "--config", str(site.config)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{site.base_url}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the appliance did not start; see {site.root / 'appliance.log'}")


def stop_appliance(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


@dataclass
class Fetch:
    first_byte_ms: float = 0.0
    first_picture_ms: float = 0.0
    size: int = 0
    seconds: float = 0.0


class Viewer:
    """A signed-in HTTP client with an open playback session."""

    def __init__(self, site: Site, username: str, camera: str, start_ms: int, end_ms: int) -> None:
        self.client = httpx.Client(base_url=site.base_url, timeout=120)
        login = self.client.post(
            "/api/auth/login", json={"username": username, "password": PASSWORD}
        )
        login.raise_for_status()
        self.client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        self.camera = camera
        started = time.perf_counter()
        opened = self.client.post(
            "/api/viewing",
            json={
                "kind": "playback",
                "cameras": [camera],
                "start_ms": start_ms,
                "end_ms": end_ms,
                "purpose": {"category": "maintenance", "text": "benchmark of playback"},
            },
        )
        self.open_ms = (time.perf_counter() - started) * 1000
        opened.raise_for_status()
        self.viewing_id = opened.json()["id"]

    def fetch(self, start_ms: int, end_ms: int, *, whole: bool = True) -> Fetch:
        """One media request: first byte, first picture (mdat), bytes, seconds."""
        started = time.perf_counter()
        result = Fetch()
        head = b""
        with self.client.stream(
            "GET",
            f"/api/viewing/{self.viewing_id}/media",
            params={"camera_id": self.camera, "start_ms": start_ms, "end_ms": end_ms},
        ) as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                now = (time.perf_counter() - started) * 1000
                if not result.first_byte_ms:
                    result.first_byte_ms = now
                result.size += len(chunk)
                if not result.first_picture_ms:
                    head = (head + chunk)[-1_000_000:]
                    if b"mdat" in head:
                        result.first_picture_ms = now
                        if not whole:
                            break
        result.seconds = time.perf_counter() - started
        return result

    def close(self) -> None:
        self.client.post(f"/api/viewing/{self.viewing_id}/end")
        self.client.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def phase_single(site: Site, samples: int) -> dict[str, float]:
    span = HISTORY_MIN * 60_000
    viewer = Viewer(site, site.viewers[0], "hist264", site.history_start_ms,
                    site.history_start_ms + span)  # fmt: skip
    opens = [viewer.open_ms]
    for _ in range(4):
        opens.append(Viewer(site, site.viewers[0], "hist264", site.history_start_ms,
                            site.history_start_ms + 60_000).open_ms)  # fmt: skip
    rng = random.Random(6)
    ttfb, pictures = [], []
    viewer.fetch(site.history_start_ms, site.history_start_ms + 10_000)  # warm caches
    for _ in range(samples):
        start = site.history_start_ms + rng.randrange(0, span - 60_000)
        got = viewer.fetch(start, start + 60_000, whole=False)
        ttfb.append(got.first_byte_ms)
        pictures.append(got.first_picture_ms)
    late = []  # the worst case: a key frame near the end of a 60 s segment
    for m in range(5):
        start = site.history_start_ms + m * 60_000 + 58_500
        late.append(viewer.fetch(start, start + 10_000, whole=False).first_byte_ms)
    whole = viewer.fetch(site.history_start_ms, site.history_start_ms + span)
    viewer.close()
    return {
        "open_median_ms": statistics.median(opens),
        "ttfb_median_ms": statistics.median(ttfb),
        "ttfb_p95_ms": pct(ttfb, 0.95),
        "picture_median_ms": statistics.median(pictures),
        "picture_p95_ms": pct(pictures, 0.95),
        "ttfb_late_max_ms": max(late),
        "stream_mb_s": whole.size / whole.seconds / 1e6,
        "stream_x_realtime": span / 1000 / whole.seconds,
        "stream_mb": whole.size / 1e6,
    }


def phase_hevc(site: Site) -> dict[str, float]:
    viewer = Viewer(site, site.viewers[0], "hist265", site.hevc_start_ms,
                    site.hevc_start_ms + 120_000)  # fmt: skip
    got = viewer.fetch(site.hevc_start_ms + 30_000, site.hevc_start_ms + 50_000)
    viewer.close()
    return {
        "hevc_ttfb_ms": got.first_byte_ms,
        "hevc_picture_ms": got.first_picture_ms,
        "hevc_fps": 20 * FPS / got.seconds,
        "hevc_x_realtime": 20 / got.seconds,
    }


def phase_concurrent(site: Site, viewers: int, window_s: float, proc_pid: int) -> dict[str, float]:
    span = HISTORY_MIN * 60_000
    stop = threading.Event()
    totals: list[tuple[int, int, list[float]]] = []
    lock = threading.Lock()
    errors: list[str] = []

    def run(index: int) -> None:
        rng = random.Random(index)
        try:
            viewer = Viewer(site, site.viewers[index], "hist264", site.history_start_ms,
                            site.history_start_ms + span)  # fmt: skip
            size = requests = 0
            firsts = []
            while not stop.is_set():
                start = site.history_start_ms + rng.randrange(0, span - 60_000)
                got = viewer.fetch(start, start + 60_000)
                firsts.append(got.first_byte_ms)
                size += got.size
                requests += 1
            viewer.close()
            with lock:
                totals.append((size, requests, firsts))
        except Exception as exc:  # reported, not raised: the other viewers go on
            errors.append(f"viewer {index}: {exc!r}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(viewers)]
    cpu_before, started = cpu_ticks(proc_pid), time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(window_s)
    stop.set()
    for thread in threads:
        thread.join(180)
    elapsed = time.monotonic() - started
    cpu = 100 * (cpu_ticks(proc_pid) - cpu_before) / TICKS_S / elapsed
    size = sum(t[0] for t in totals)
    firsts = [f for t in totals for f in t[2]]
    return {
        "viewers_ok": len(totals),
        "errors": len(errors),
        "requests": sum(t[1] for t in totals),
        "mb_s_total": size / elapsed / 1e6,
        "x_realtime_per_viewer": (size / elapsed / max(1, len(totals))) / (4e6 / 8),
        "ttfb_median_ms": statistics.median(firsts) if firsts else float("nan"),
        "ttfb_p95_ms": pct(firsts, 0.95) if firsts else float("nan"),
        "appliance_cpu_pct": cpu,
        **({"first_error": errors[0]} if errors else {}),  # type: ignore[dict-item]
    }


def _boxes(buffer: bytearray) -> list[tuple[bytes, bytes]]:
    """Complete top-level MP4 boxes taken off the front of ``buffer``: (type, body)."""
    found = []
    while len(buffer) >= 8:
        size = int.from_bytes(buffer[0:4], "big")
        kind = bytes(buffer[4:8])
        header = 8
        if size == 1:
            if len(buffer) < 16:
                break
            size, header = int.from_bytes(buffer[8:16], "big"), 16
        if size < header or len(buffer) < size:
            break
        found.append((kind, bytes(buffer[header:size])))
        del buffer[:size]
    return found


def phase_live(root: Path, seconds: float) -> dict[str, float]:
    import uvicorn

    from api.app import create_app
    from recorder.daemon import RecorderDaemon

    with CameraSimulator(1, **SIM) as sim:
        site = prepare(root, sim, 1, 1)
        settings = Settings(**site.data)
        ctx = AppContext.open(settings, SystemClock())
        recorder = RecorderDaemon(ctx)
        recorder.start()
        ctx.live.attach(recorder)
        server = uvicorn.Server(
            uvicorn.Config(create_app(ctx), host="127.0.0.1", port=site.port, log_level="warning")
        )
        web = threading.Thread(target=server.run, daemon=True)
        web.start()
        published: dict[bytes, float] = {}
        probe_stop = threading.Event()
        try:
            deadline = time.monotonic() + 30
            while not recorder.fanout("cam001").streams and time.monotonic() < deadline:
                time.sleep(0.1)
            while not server.started:
                time.sleep(0.05)
            probe = recorder.fanout("cam001").subscribe(maxsize=10_000)

            def watch() -> None:
                while not probe_stop.is_set():
                    sample = probe.get(timeout=0.05)
                    if sample is not None and sample.stream_index == 0:
                        key = annexb_to_length_prefixed(sample.data)[:64]
                        published[key] = time.monotonic()

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            client = httpx.Client(base_url=site.base_url, timeout=30)
            login = client.post(
                "/api/auth/login", json={"username": site.viewers[0], "password": PASSWORD}
            )
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            opened = client.post(
                "/api/viewing",
                json={"kind": "live", "cameras": ["cam001"],
                      "purpose": {"category": "safety", "text": "benchmark of live view"}},
            ).json()  # fmt: skip
            delays: list[float] = []
            unmatched = 0
            buffer = bytearray()
            asked = time.monotonic()
            first_picture = 0.0
            with client.stream(
                "GET", f"/api/viewing/{opened['id']}/live", params={"camera_id": "cam001"}
            ) as response:
                for chunk in response.iter_raw():
                    now = time.monotonic()
                    buffer += chunk
                    for kind, body in _boxes(buffer):
                        if kind != b"mdat":
                            continue
                        if not first_picture:
                            first_picture = now - asked
                        when = published.get(body[:64])
                        if when is None:
                            unmatched += 1
                        else:
                            delays.append(now - when)
                    if now - asked > seconds:
                        break
            client.post(f"/api/viewing/{opened['id']}/end")
            client.close()
        finally:
            probe_stop.set()
            server.should_exit = True
            web.join(10)
            ctx.live.detach(recorder)
            recorder.stop()
            ctx.close()
    return {
        "live_fragments": len(delays),
        "live_unmatched": unmatched,
        "live_first_picture_s": first_picture,
        "live_delay_median_s": statistics.median(delays) if delays else float("nan"),
        "live_delay_p95_s": pct(delays, 0.95) if delays else float("nan"),
        "live_delay_max_s": max(delays) if delays else float("nan"),
    }


def live_start(root: Path, trials: int, seconds: float) -> None:
    """Phase 6: live time to first picture (cached GOP or not), H.265 live transcode CPU."""
    with CameraSimulator(1, **SIM) as sim:
        start = timed(
            "live start",
            lambda: phase_live_start(root / "start", prepare, sim, trials, PASSWORD),
        )
    hevc = timed("H.265 live", lambda: phase_live_transcode(sim_clip("hevc"), seconds))
    print(f"\nlive time to first picture, {trials} requests at random moments of a 2 s GOP:")
    for mode in ("cached", "uncached"):
        print(
            f"  {mode} GOP: median {start[f'live_start_{mode}_median_s']:.2f} s,"
            f" p95 {start[f'live_start_{mode}_p95_s']:.2f} s,"
            f" max {start[f'live_start_{mode}_max_s']:.2f} s"
        )
    print(
        f"  target: median < 0.5 s with the cache:"
        f" {start['live_start_cached_median_s'] / 0.5:.2f} x"
    )
    print(
        f"H.265 live -> H.264 (1080p, libx264 veryfast zerolatency): encoder per camera"
        f" {hevc['live265_per_camera_pct']:.0f} % of a core, each further viewer"
        f" {hevc['live265_per_viewer_pct']:.1f} %; 4 viewers share"
        f" {hevc['live265_encoders']:.0f} encoder(s), {hevc['live265_four_viewers_pct']:.0f} % in"
        f" all; publisher alone {hevc['live265_publisher_pct']:.1f} %; encoder stopped after the"
        f" last viewer: {bool(hevc['live265_stopped'])}"
    )


def timed(name: str, step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    print(f"... {name}", flush=True)
    return step()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=30)
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--live-seconds", type=float, default=20.0)
    parser.add_argument("--live-trials", type=int, default=20)
    parser.add_argument("--only-live", action="store_true", help="only the live-start phases")
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    root = Path(tempfile.mkdtemp(prefix="bench-playback-"))
    try:
        live_start(root, args.live_trials, args.live_seconds)
        if args.only_live:
            print(f"load average after: {os.getloadavg()}")
            return 0
        site = prepare(root / "single", None, 1, args.viewers)
        proc = start_appliance(site, ["web"])
        try:
            single = timed("single viewer", lambda: phase_single(site, args.samples))
            hevc = timed("H.265 transcoding", lambda: phase_hevc(site))
        finally:
            stop_appliance(proc)
        shutil.rmtree(root / "single")

        with CameraSimulator(args.cameras, **SIM) as sim:
            site = prepare(root / "busy", sim, args.cameras, args.viewers)
            proc = start_appliance(site, ["recorder", "web"])
            try:
                time.sleep(10)  # every camera connected and recording
                window_start_ms = time.time_ns() // 1_000_000
                busy = timed(
                    f"{args.viewers} viewers while {args.cameras} cameras record",
                    lambda: phase_concurrent(site, args.viewers, args.window, proc.pid),
                )
                window_end_ms = time.time_ns() // 1_000_000
            finally:
                stop_appliance(proc)
            ctx = AppContext.open(Settings(**site.data), SystemClock())
            # Frames are checked inside the window the viewers were served in.
            window = Window(0.0, 0.0, 0.0, window_start_ms, window_end_ms)
            stored, lost, fewest = lost_frames(ctx, args.cameras, window)
            ctx.close()
        shutil.rmtree(root / "busy")
        live = timed("live view", lambda: phase_live(root / "live", args.live_seconds))

        print("\nrecorded playback, 1080p H.264 4 Mbit/s, encrypted 60 s segments")
        print(
            f"open a viewing session (ledger entry first): median {single['open_median_ms']:.1f} ms"
        )
        print(
            f"time to first byte at random positions: median {single['ttfb_median_ms']:.1f} ms,"
            f" p95 {single['ttfb_p95_ms']:.1f} ms; late in a segment: max"
            f" {single['ttfb_late_max_ms']:.1f} ms; first picture (first fragment): median"
            f" {single['picture_median_ms']:.1f} ms, p95 {single['picture_p95_ms']:.1f} ms"
        )
        print(
            f"ratio TTFB p95 / target {TARGET_TTFB_MS:.0f} ms:"
            f" {single['ttfb_p95_ms'] / TARGET_TTFB_MS:.2f} x"
        )
        print(
            f"one viewer, {HISTORY_MIN} min in one response: {single['stream_mb']:.0f} MB at"
            f" {single['stream_mb_s']:.0f} MB/s = {single['stream_x_realtime']:.0f} x real time"
        )
        print(
            f"H.265 -> H.264 (1080p, libx264 veryfast): {hevc['hevc_fps']:.1f} fps ="
            f" {hevc['hevc_x_realtime']:.2f} x real time; first byte {hevc['hevc_ttfb_ms']:.0f} ms,"
            f" first picture {hevc['hevc_picture_ms']:.0f} ms"
        )
        print(
            f"{busy['viewers_ok']} viewers ({busy['errors']} errors) while {args.cameras} cameras"
            f" record, {args.window:.0f} s: {busy['requests']} requests,"
            f" {busy['mb_s_total']:.0f} MB/s in all ="
            f" {busy['x_realtime_per_viewer']:.1f} x real time per viewer; TTFB median"
            f" {busy['ttfb_median_ms']:.0f} ms, p95 {busy['ttfb_p95_ms']:.0f} ms;"
            f" appliance CPU {busy['appliance_cpu_pct']:.0f} % of one core"
        )
        if "first_error" in busy:
            print(f"  first viewer error: {busy['first_error']}")
        print(
            f"recorder frames stored {stored} (fewest for one camera {fewest}), lost {lost}"
            " (target 0)"
        )
        print(
            f"live view: {live['live_fragments']} fragments ({live['live_unmatched']} unmatched);"
            f" first picture after {live['live_first_picture_s']:.2f} s; recorder-to-client delay"
            f" median {live['live_delay_median_s']:.2f} s, p95 {live['live_delay_p95_s']:.2f} s,"
            f" max {live['live_delay_max_s']:.2f} s (target < 3 s:"
            f" {live['live_delay_max_s'] / 3:.2f} x)"
        )
        print(f"load average after: {os.getloadavg()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
