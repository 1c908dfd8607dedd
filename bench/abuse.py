"""Abuse benchmark (issue 13): does the appliance keep recording and serving its staff while
an anonymous client floods it and a signed-in viewer asks for too many streams?

    .venv/bin/python -m bench.abuse                     # 60 s under attack (about 3 minutes)
    .venv/bin/python -m bench.abuse --duration 30       # shorter

Everything runs on loopback and stops by itself: the camera simulator (30 cameras, 1080p H.264
at 4 Mbit/s), ``appliance run --only recorder --only web`` in its own process (the same start as
bench/playback.py), and in this process, for ``--duration`` seconds:

- one staff viewer playing recorded footage: a media request at a random position every
  second, timed to its first byte (the figure a person waiting for a picture sees);
- an unauthenticated login flood: ``--flood-threads`` clients posting wrong passwords for
  random (and one real) usernames as fast as the appliance answers;
- an oversized-body flood: bodies of 4 MiB (declared length) and 2 MiB sent chunked (no
  declared length) to the login and a staff route, which must be refused (413) unread;
- a greedy viewer: signed in, it opens one more concurrent stream every ``--greedy-every``
  seconds (up to ``--greedy-streams``), reading each slowly, and counts the refusals (429
  where a per-user or per-box stream limit exists; without one, they are all served).

Before the window, a short rehearsal (``--rehearse``) takes every code path of the attack once
(a stream, a refused body, a wrong password), so the memory figure is what the attack adds, not
what a process loads the first time it serves anything.

Reported: frames the recorder lost (target 0: every stored frame located in the simulator's
clip, as bench/ingest.py does), the viewer's time to first byte (median, target < 500 ms), the
appliance's memory growth over the attack (target < 10 %), and how many flood requests got
413 or 429 (and what else they got). Every loop is bounded by the deadline and a request
timeout; the appliance and the simulator are stopped in ``finally``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.settings import Settings
from bench.ingest import SIM, Window, lost_frames, rss_mb
from bench.playback import HISTORY_MIN, Site, Viewer, prepare, start_appliance, stop_appliance
from recorder.sim import CameraSimulator

__all__ = ["main"]

TARGET_TTFB_MS = 500.0
TARGET_GROWTH_PCT = 10.0
TIMEOUT_S = 10.0  # every request of the bench: nothing waits forever


@dataclass
class Tally:
    """Status codes seen by one kind of traffic (thread-safe)."""

    codes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, code: int | str) -> None:
        with self.lock:
            self.codes[str(code)] += 1

    def total(self) -> int:
        return sum(self.codes.values())

    def refused(self, *codes: int) -> int:
        return sum(self.codes[str(c)] for c in codes)


def _login_flood(site: Site, stop_at: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=site.base_url, timeout=TIMEOUT_S) as client:
        while time.monotonic() < stop_at:
            name = "viewer1" if rng.random() < 0.2 else f"nobody{rng.randrange(10**6)}"
            try:
                response = client.post(
                    "/api/auth/login", json={"username": name, "password": f"guess{rng.random()}"}
                )
                tally.add(response.status_code)
                if response.status_code in (429, 503):
                    time.sleep(0.01)  # refused at once: do not spin the bench's own CPU
            except httpx.HTTPError as exc:
                tally.add(type(exc).__name__)


def _chunks(total: int) -> Iterator[bytes]:
    block = b"x" * 65536
    for _ in range(total // len(block)):
        yield block


def _body_flood(site: Site, stop_at: float, tally: Tally) -> None:
    declared = b"{" + b" " * (4 * 1024**2) + b"}"
    targets = ["/api/auth/login", "/api/users"]
    with httpx.Client(base_url=site.base_url, timeout=TIMEOUT_S) as client:
        round_ = 0
        while time.monotonic() < stop_at:
            path = targets[round_ % 2]
            headers = {"content-type": "application/json"}
            try:
                if round_ % 3 == 2:  # no Content-Length: the limit must hold on the stream
                    response = client.post(path, content=_chunks(2 * 1024**2), headers=headers)
                else:
                    response = client.post(path, content=declared, headers=headers)
                tally.add(response.status_code)
            except httpx.HTTPError as exc:  # the server may cut the upload short
                tally.add(type(exc).__name__)
            round_ += 1


def _staff_viewer(site: Site, stop_at: float, ttfb: list[float], errors: list[str]) -> None:
    span = HISTORY_MIN * 60_000
    start = site.history_start_ms
    rng = random.Random(1)
    try:
        viewer = Viewer(site, site.viewers[0], "hist264", start, start + span)
    except httpx.HTTPError as exc:
        errors.append(f"staff viewer could not open: {exc!r}")
        return
    viewer.client.timeout = httpx.Timeout(TIMEOUT_S)
    try:
        while time.monotonic() < stop_at:
            at = start + rng.randrange(0, span - 20_000)
            try:
                ttfb.append(viewer.fetch(at, at + 10_000, whole=False).first_byte_ms)
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            time.sleep(1.0)
    finally:
        viewer.close()


def _greedy_stream(
    viewer: Viewer, first_ms: int, stop_at: float, tally: Tally, index: int, opened: threading.Event
) -> None:
    """One more concurrent stream of the greedy viewer, read a little each second."""
    at = first_ms + (index * 37_000) % (HISTORY_MIN * 60_000 - 60_000)
    try:
        with viewer.client.stream(
            "GET",
            f"/api/viewing/{viewer.viewing_id}/media",
            params={"camera_id": viewer.camera, "start_ms": at, "end_ms": at + 60_000},
        ) as response:
            tally.add(response.status_code)
            opened.set()
            if response.status_code != 200:
                return
            for _ in response.iter_raw(65536):
                if time.monotonic() >= stop_at:
                    return
                time.sleep(1.0)  # hold the stream open, reading slowly
    except httpx.HTTPError as exc:
        tally.add(type(exc).__name__)
        opened.set()


def _greedy_viewer(
    site: Site, stop_at: float, tally: Tally, streams: int, every_s: float, errors: list[str]
) -> None:
    span = HISTORY_MIN * 60_000
    try:
        viewer = Viewer(
            site, site.viewers[1], "hist264", site.history_start_ms, site.history_start_ms + span
        )
    except httpx.HTTPError as exc:
        errors.append(f"greedy viewer could not open: {exc!r}")
        return
    viewer.client.timeout = httpx.Timeout(TIMEOUT_S, read=None)
    threads = []
    try:
        for index in range(streams):
            if time.monotonic() >= stop_at:
                break
            opened = threading.Event()
            thread = threading.Thread(
                target=_greedy_stream,
                args=(viewer, site.history_start_ms, stop_at, tally, index, opened),
                daemon=True,
            )
            thread.start()
            threads.append(thread)
            opened.wait(TIMEOUT_S)
            time.sleep(every_s)
        for thread in threads:
            thread.join(max(0.0, stop_at - time.monotonic()) + TIMEOUT_S)
    finally:
        with contextlib.suppress(httpx.HTTPError):
            viewer.close()


def rehearse(site: Site, seconds: float) -> None:
    """Every code path of the attack once, briefly, before memory is first sampled.

    A process that has never served a stream, refused a body or checked a password loads
    modules and fills pools (imports, thread pools, allocator arenas) the first time: a fixed
    cost, the same for a 60 s and a 120 s attack, not growth caused by the attack. The staff
    viewer and the greedy viewer (up to its limit) play for ``seconds``; one declared and one
    chunked oversized body are refused; two wrong passwords are refused (below every throttle,
    so the viewers of the attack still sign in).
    """
    stop_at = time.monotonic() + seconds
    errors: list[str] = []
    threads = [
        threading.Thread(target=_staff_viewer, args=(site, stop_at, [], errors)),
        threading.Thread(target=_greedy_viewer, args=(site, stop_at, Tally(), 4, 0.5, errors)),
    ]
    for thread in threads:
        thread.start()
    with httpx.Client(base_url=site.base_url, timeout=TIMEOUT_S) as client:
        headers = {"content-type": "application/json"}
        for content in (b"{" + b" " * (4 * 1024**2) + b"}", _chunks(2 * 1024**2)):
            with contextlib.suppress(httpx.HTTPError):
                client.post("/api/users", content=content, headers=headers)
        for name in ("nobody-rehearsal", "viewer1"):
            with contextlib.suppress(httpx.HTTPError):
                client.post("/api/auth/login", json={"username": name, "password": "wrong"})
    for thread in threads:
        thread.join(seconds + 2 * TIMEOUT_S)
    if errors:
        raise RuntimeError(f"the rehearsal failed: {errors[0]}")
    time.sleep(3.0)  # the streams' ends recorded, their memory given back


def attack(site: Site, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """The attack window: memory sampled each second, every kind of traffic at once."""
    stop_at = time.monotonic() + args.duration
    logins, bodies, greedy = Tally(), Tally(), Tally()
    ttfb: list[float] = []
    errors: list[str] = []
    rss_start = rss_mb(pid)
    threads = [
        threading.Thread(target=_staff_viewer, args=(site, stop_at, ttfb, errors)),
        threading.Thread(
            target=_greedy_viewer,
            args=(site, stop_at, greedy, args.greedy_streams, args.greedy_every, errors),
        ),
    ]
    # The viewers sign in first: the flood comes from the same loopback address, and a
    # per-address throttle would (rightly) refuse them too once it has started.
    for thread in threads:
        thread.start()
    time.sleep(3.0)
    threads += [
        threading.Thread(target=_login_flood, args=(site, stop_at, logins, n))
        for n in range(args.flood_threads)
    ]
    threads.append(threading.Thread(target=_body_flood, args=(site, stop_at, bodies)))
    for thread in threads[2:]:
        thread.start()
    peak = rss_start
    while time.monotonic() < stop_at:
        peak = max(peak, rss_mb(pid))
        time.sleep(1.0)
    for thread in threads:
        thread.join(2 * TIMEOUT_S + 5)
    rss_end = rss_mb(pid)
    return {
        "ttfb_median_ms": statistics.median(ttfb) if ttfb else float("nan"),
        "ttfb_p95_ms": sorted(ttfb)[int(0.95 * (len(ttfb) - 1))] if ttfb else float("nan"),
        "ttfb_samples": len(ttfb),
        "viewer_errors": len(errors),
        "first_error": errors[0] if errors else "",
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_end,
        "rss_peak_mb": peak,
        "rss_growth_pct": 100 * (rss_end - rss_start) / rss_start if rss_start else float("nan"),
        "logins": dict(logins.codes),
        "logins_refused": logins.refused(413, 429, 503),
        "bodies": dict(bodies.codes),
        "bodies_refused": bodies.refused(413, 429),
        "greedy": dict(greedy.codes),
        "greedy_refused": greedy.refused(429),
        "flood_413_429": logins.refused(413, 429) + bodies.refused(413, 429),
        "flood_total": logins.total() + bodies.total(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=30)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds under attack")
    parser.add_argument("--warmup", type=float, default=10.0, help="recording before the attack")
    parser.add_argument(
        "--rehearse", type=float, default=10.0,
        help="seconds of every code path before the first memory sample (0: none)",
    )  # fmt: skip
    parser.add_argument("--flood-threads", type=int, default=4)
    parser.add_argument("--greedy-streams", type=int, default=12)
    parser.add_argument("--greedy-every", type=float, default=1.0)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bench-abuse-"))
    load_before = os.getloadavg()
    try:
        with CameraSimulator(args.cameras, **SIM) as sim:
            site = prepare(root / "site", sim, args.cameras, 2)
            proc = start_appliance(site, ["recorder", "web"])
            try:
                time.sleep(args.warmup)  # every camera connected and recording
                if args.rehearse > 0:
                    rehearse(site, args.rehearse)
                window_start_ms = time.time_ns() // 1_000_000
                figures = attack(site, proc.pid, args)
                window_end_ms = time.time_ns() // 1_000_000
                # Still running after the attack?
                alive = httpx.get(f"{site.base_url}/api/health", timeout=TIMEOUT_S)
                figures["healthy_after"] = alive.status_code == 200
            finally:
                stop_appliance(proc)
        ctx = AppContext.open(Settings(**site.data), SystemClock())
        try:
            window = Window(0.0, 0.0, 0.0, window_start_ms, window_end_ms)
            stored, lost, fewest = lost_frames(ctx, args.cameras, window)
        finally:
            ctx.close()
        figures.update(frames_stored=stored, frames_lost=lost, fewest_in_window=fewest)
        figures["load_before"], figures["load_after"] = load_before, os.getloadavg()
        _report(figures, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def _report(f: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\nabuse for {args.duration:.0f} s while {args.cameras} cameras record")
    print(
        f"recorder frames stored {f['frames_stored']} (fewest in the window for one camera"
        f" {f['fewest_in_window']}), lost {f['frames_lost']} (target 0)"
    )
    print(
        f"staff viewer time to first byte: median {f['ttfb_median_ms']:.0f} ms, p95"
        f" {f['ttfb_p95_ms']:.0f} ms over {f['ttfb_samples']} requests, {f['viewer_errors']}"
        f" errors (target median < {TARGET_TTFB_MS:.0f} ms:"
        f" {f['ttfb_median_ms'] / TARGET_TTFB_MS:.2f} x) {f['first_error']}"
    )
    print(
        f"appliance memory {f['rss_start_mb']:.0f} -> {f['rss_end_mb']:.0f} MB (peak"
        f" {f['rss_peak_mb']:.0f}): {f['rss_growth_pct']:+.1f} %"
        f" (target < {TARGET_GROWTH_PCT:.0f} %: {f['rss_growth_pct'] / TARGET_GROWTH_PCT:.2f} x;"
        f" after a rehearsal of {args.rehearse:.0f} s)"
    )
    print(f"login flood: {f['logins']}")
    print(f"oversized bodies: {f['bodies']}")
    print(f"greedy viewer's streams: {f['greedy']} ({f['greedy_refused']} refused with 429)")
    print(
        f"flood requests refused with 413/429: {f['flood_413_429']} of {f['flood_total']};"
        f" healthy after: {f['healthy_after']}"
    )
    print(f"load average before {f['load_before']}, after {f['load_after']}")
    print(json.dumps(f, default=str))


if __name__ == "__main__":
    raise SystemExit(main())
