"""Live-view phases of bench/playback.py: time to first picture with and without the cached
GOP, and the CPU of the H.265 live transcode per camera and per viewer.

1. Recorder and web server in this process (as under ``appliance run``), one simulated camera
   (1080p H.264, 4 Mbit/s, a key frame every 2 s). A viewer opens a session and asks for the
   live stream at a random moment of the GOP, again and again; the time from asking to holding
   the first whole fragment (its first picture) is taken over HTTP. Then the same with the
   fan-out's GOP cache turned off (``max_gop_bytes = 0``: the viewer waits for the next key
   frame, as before issue 16).
2. The simulator's 1080p H.265 clip published at 25 fps on a fan-out; the live transcoder
   (one libx264 encoder, shared) is watched by 1, then 4 viewers (each remuxing the H.264 into
   fMP4 as the web process does). Process CPU per second of video, minus the publisher alone:
   the first viewer carries the encoder (per camera), the others only their remux (per viewer).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.media.format import Sample, StreamInfo
from appliance.media.mp4 import init_from_keyframe
from appliance.settings import Settings
from appliance.viewing.fanout import PacketFanout
from appliance.viewing.live import live_fmp4
from appliance.viewing.live_transcode import LiveTranscodes

__all__ = ["phase_live_start", "phase_live_transcode"]

Clip = list[tuple[bytes, bool]]
FPS = 25


def _first_picture_s(client: httpx.Client, camera: str) -> float:
    opened = client.post(
        "/api/viewing",
        json={"kind": "live", "cameras": [camera],
              "purpose": {"category": "safety", "text": "benchmark of live view"}},
    ).json()  # fmt: skip
    asked = time.monotonic()
    took = float("nan")
    buffer = bytearray()
    with client.stream(
        "GET", f"/api/viewing/{opened['id']}/live", params={"camera_id": camera}
    ) as response:
        for chunk in response.iter_raw():
            buffer += chunk
            if b"mdat" in buffer:  # the first fragment's header and its first picture
                took = time.monotonic() - asked
                break
    client.post(f"/api/viewing/{opened['id']}/end")
    return took


def phase_live_start(
    root: Path,
    prepare: Callable[[Path, Any, int, int], Any],
    sim: Any,
    trials: int,
    password: str,
) -> dict[str, float]:
    """Median and p95 time to first picture, with the GOP cache and without."""
    import uvicorn

    from api.app import create_app
    from recorder.daemon import RecorderDaemon

    site = prepare(root, sim, 1, 1)
    ctx = AppContext.open(Settings(**site.data), SystemClock())
    recorder = RecorderDaemon(ctx)
    recorder.start()
    ctx.live.attach(recorder)
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx), host="127.0.0.1", port=site.port, log_level="warning")
    )
    web = threading.Thread(target=server.run, daemon=True)
    web.start()
    results: dict[str, list[float]] = {"cached": [], "uncached": []}
    rng = random.Random(16)
    try:
        deadline = time.monotonic() + 30
        while not recorder.fanout("cam001").streams and time.monotonic() < deadline:
            time.sleep(0.1)
        while not server.started:
            time.sleep(0.05)
        time.sleep(3)  # a whole GOP went by
        client = httpx.Client(base_url=site.base_url, timeout=30)
        login = client.post(
            "/api/auth/login", json={"username": site.viewers[0], "password": password}
        )
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        fanout = recorder.fanout("cam001")
        kept = fanout.max_gop_bytes
        for mode in ("cached", "uncached"):
            fanout.max_gop_bytes = kept if mode == "cached" else 0
            time.sleep(2.5)
            for _ in range(trials):
                time.sleep(rng.uniform(0, 2))  # a random moment of the 2 s GOP
                results[mode].append(_first_picture_s(client, "cam001"))
        fanout.max_gop_bytes = kept
        client.close()
    finally:
        server.should_exit = True
        web.join(10)
        ctx.live.detach(recorder)
        recorder.stop()
        ctx.close()
    out: dict[str, float] = {"live_start_trials": trials}
    for mode, values in results.items():
        values.sort()
        out[f"live_start_{mode}_median_s"] = statistics.median(values)
        out[f"live_start_{mode}_p95_s"] = values[min(len(values) - 1, int(len(values) * 0.95))]
        out[f"live_start_{mode}_max_s"] = values[-1]
    return out


def _publish(clip: Clip, fanout: PacketFanout, stop: threading.Event) -> None:
    ts, step = 0, 90_000 // FPS
    began = time.monotonic()
    n = 0
    while not stop.is_set():
        for data, key in clip:
            fanout.publish(Sample(0, data, ts, ts, 0, key, ts // 90))
            ts += step
            n += 1
            delay = began + n / FPS - time.monotonic()
            if delay > 0 and stop.wait(delay):
                return


def _cpu_per_s(seconds: float) -> float:
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return (time.process_time() - cpu) / (time.monotonic() - wall)


def phase_live_transcode(hevc_clip: Clip, seconds: float) -> dict[str, float]:
    """CPU (% of one core) of the shared H.265 -> H.264 live encoder and of each viewer."""
    fanout = PacketFanout()
    init, width, height = init_from_keyframe("hevc", hevc_clip[0][0])
    fanout.set_streams((StreamInfo(0, "video", "hevc", 1, 90_000, width, height, init=init),))
    stop = threading.Event()
    publisher = threading.Thread(target=_publish, args=(hevc_clip, fanout, stop), daemon=True)
    publisher.start()
    transcodes = LiveTranscodes(lambda: lambda: None)
    leases: list[Any] = []
    watchers: list[threading.Thread] = []
    sent = [0]

    def watch(feed: Any, done: threading.Event) -> None:
        for chunk in live_fmp4(feed, keep_going=lambda: not done.is_set()):
            sent[0] += len(chunk)

    done = threading.Event()
    try:
        time.sleep(2)
        base = _cpu_per_s(seconds)
        figures: dict[int, float] = {}
        for viewers in (1, 4):
            while len(leases) < viewers:
                lease = transcodes.acquire("cam265", fanout)
                leases.append(lease)
                thread = threading.Thread(target=watch, args=(lease.feed, done), daemon=True)
                thread.start()
                watchers.append(thread)
            time.sleep(3)  # the encoder is going
            figures[viewers] = _cpu_per_s(seconds)
        encoders = len(transcodes.encoders())
        encoded = leases[0].feed.encoded
    finally:
        done.set()
        for lease in leases:
            lease.release()
        for thread in watchers:
            thread.join(5)
        stop.set()
        publisher.join(5)
    per_camera = figures[1] - base
    return {
        "live265_encoders": encoders,
        "live265_frames_encoded": encoded,
        "live265_publisher_pct": 100 * base,
        "live265_per_camera_pct": 100 * per_camera,
        "live265_per_viewer_pct": 100 * (figures[4] - figures[1]) / 3,
        "live265_four_viewers_pct": 100 * (figures[4] - base),
        "live265_stopped": float(not transcodes.encoders()),
    }
