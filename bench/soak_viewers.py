"""The soak's staff (bench/soak.py): viewers who come and go through the real web server.

Each viewer, in a loop until the soak ends: signs in, then once or twice either opens live view
of a camera that is not cut (purpose: safety round) and watches it for 10-30 s, or looks up a
camera's timeline, picks 20 s of recorded footage not about to expire and plays it (purpose:
incident check), ends each viewing session, signs out, and is away for 3-15 s. Every request
has a timeout; failures are counted by kind, and those while the appliance restarts apart.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["ViewerStats", "run_viewer"]

TIMEOUT_S = 15.0


@dataclass
class ViewerStats:
    """What the viewers did and met (thread-safe)."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # outside the restart
    restart_errors: Counter[str] = field(default_factory=Counter)  # while it restarts
    first_bytes_ms: dict[str, list[float]] = field(default_factory=lambda: {"live": [], "rec": []})
    bytes: int = 0
    samples: list[str] = field(default_factory=list)  # the first few errors, for the report
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n

    def error(self, what: str, detail: str, restarting: bool) -> None:
        with self.lock:
            (self.restart_errors if restarting else self.errors)[what] += 1
            if not restarting and len(self.samples) < 8:
                self.samples.append(f"{what}: {detail[:200]}")


@dataclass
class Stage:
    """What the soak tells its viewers: where the server is, which cameras are cut."""

    base_url: str
    password: str
    cameras: list[str]
    hevc: set[str]
    day_ms: int
    stop_at: float
    cut: set[str] = field(default_factory=set)
    restarting: Callable[[], bool] = lambda: False


def _purpose(kind: str) -> dict[str, str]:
    if kind == "live":
        return {"category": "safety", "text": "시설 안전 순찰 (soak)"}
    return {"category": "incident", "text": "낙상 사고 경위 확인 (soak)"}


def _watch(
    client: httpx.Client, url: str, params: dict[str, Any], seconds: float
) -> tuple[int, float, int]:
    """(status, first byte ms, bytes) of one streamed response read for up to ``seconds``."""
    started = time.monotonic()
    first = 0.0
    size = 0
    with client.stream("GET", url, params=params) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, 0.0, 0
        for chunk in response.iter_raw(65536):
            if not first:
                first = (time.monotonic() - started) * 1000
            size += len(chunk)
            if time.monotonic() - started > seconds:
                break
    return 200, first, size


def _live(client: httpx.Client, stage: Stage, rng: random.Random, stats: ViewerStats) -> None:
    choices = [c for c in stage.cameras if c not in stage.cut]
    camera = rng.choice(choices)
    opened = client.post(
        "/api/viewing", json={"kind": "live", "cameras": [camera], "purpose": _purpose("live")}
    )
    opened.raise_for_status()
    viewing_id = opened.json()["id"]
    params: dict[str, Any] = {"camera_id": camera}
    if camera in stage.hevc:
        params["transcode"] = "false"  # a browser that plays H.265
    try:
        status, first, size = _watch(
            client, f"/api/viewing/{viewing_id}/live", params, rng.uniform(10, 30)
        )
    except httpx.ReadTimeout:
        if camera not in stage.cut:
            raise
        stats.count("live_stalled_by_a_cut")  # the camera was cut while watched: no picture
        return
    finally:
        client.post(f"/api/viewing/{viewing_id}/end")
    _tally(stats, "live", status, first, size)


def _recorded(client: httpx.Client, stage: Stage, rng: random.Random, stats: ViewerStats) -> None:
    camera = rng.choice(stage.cameras)
    timeline = client.get(f"/api/timeline/{camera}")
    timeline.raise_for_status()
    now = int(time.time() * 1000)
    oldest = now - stage.day_ms + 60_000  # not about to be purged while it plays
    spans = [
        (max(r["start_ms"], oldest), r["end_ms"])
        for r in timeline.json()["recorded"]
        if r["end_ms"] - max(r["start_ms"], oldest) >= 20_000
    ]
    if not spans:
        stats.count("rec_nothing_to_play")
        return
    low, high = rng.choice(spans)
    start = rng.randrange(low, high - 20_000 + 1)
    opened = client.post(
        "/api/viewing",
        json={"kind": "playback", "cameras": [camera], "start_ms": start,
              "end_ms": start + 20_000, "purpose": _purpose("rec")},
    )  # fmt: skip
    opened.raise_for_status()
    viewing_id = opened.json()["id"]
    params: dict[str, Any] = {"camera_id": camera, "start_ms": start, "end_ms": start + 20_000}
    if camera in stage.hevc:
        params["transcode"] = "false"
    try:
        status, first, size = _watch(client, f"/api/viewing/{viewing_id}/media", params, 60)
    finally:
        client.post(f"/api/viewing/{viewing_id}/end")
    _tally(stats, "rec", status, first, size)


class Refused(Exception):
    """A stream answered other than 200."""


def _tally(stats: ViewerStats, kind: str, status: int, first: float, size: int) -> None:
    if status != 200:
        raise Refused(f"{kind} stream answered {status}")
    stats.count(f"{kind}_ok")
    with stats.lock:
        stats.first_bytes_ms[kind].append(first)
        stats.bytes += size


def run_viewer(index: int, username: str, stage: Stage, stats: ViewerStats) -> None:
    """One member of staff, coming and going until ``stage.stop_at``."""
    rng = random.Random(index)
    time.sleep(rng.uniform(0, 10))  # they do not all arrive at once
    while time.monotonic() < stage.stop_at:
        try:
            with httpx.Client(base_url=stage.base_url, timeout=TIMEOUT_S) as client:
                login = client.post(
                    "/api/auth/login", json={"username": username, "password": stage.password}
                )
                login.raise_for_status()
                stats.count("sign_in")
                client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
                for _ in range(rng.randint(1, 2)):
                    if time.monotonic() >= stage.stop_at:
                        break
                    (_live if rng.random() < 0.5 else _recorded)(client, stage, rng, stats)
                client.post("/api/auth/logout")
                stats.count("sign_out")
        except (httpx.HTTPError, Refused, KeyError, ValueError) as exc:
            what = type(exc).__name__
            if isinstance(exc, httpx.HTTPStatusError):
                path = exc.request.url.path.rsplit("/", 1)[-1] if exc.request else ""
                what = f"HTTP {exc.response.status_code} on {path or '/'}"
            elif isinstance(exc, Refused):
                what = str(exc)
            stats.error(what, repr(exc), stage.restarting())
            time.sleep(2.0)
        time.sleep(rng.uniform(3, 15))
