"""Scale-out benchmark (issue 19), in sections; each prints its figures and a ratio to a
baseline measured in the same run.

    .venv/bin/python -m bench.scale                      # every section
    .venv/bin/python -m bench.scale --only upload --only ttfb --segments 6 --repeats 15

Sections:

- ``upload``: a recorder node's uploader (``appliance.storage.Uploader``: MD5, PUT with
  Content-MD5, the row updated; 4 uploads in flight, and 1 for comparison) puts real
  encrypted 60 s segments (1080p H.264, 4 Mbit/s, the simulator's clip, sealed as the recorder
  seals them) into OpenStack Swift (s3api) on loopback: MB/s and segments/s. Baseline: the
  same uploader into a ``LocalDirStore`` on this disk (copy + fsync + rename), i.e. what the
  code costs without the network and Swift. A camera at 4 Mbit/s writes 0.5 MB/s: the figure
  divided by 0.5 is how many cameras one node's uploader keeps up with.
- ``ttfb``: playback time to first byte (``build_fmp4`` until its first fMP4 bytes: open the
  ciphertext, seek to the enclosing key frame (format 3's INDEX), decrypt to the asked time,
  mux the first sample) and to the first media fragment (``moof``: the first picture a player
  can show), of a segment whose local copy was dropped, read from Swift (no cache), from the
  read cache, and from local disk (baseline; target: object store under 2 x local). Two
  positions: the start of a segment and a random position. For reference, in the same run:
  local disk read from the segment start (no seek, what format 2 did), and the floor of any
  read from the store, one ranged GET of 1 byte.

- ``http``: the same comparison as a viewer gets it, ``GET /api/viewing/{id}/media`` from
  ``appliance run --only web`` over loopback, local disk against the store with no read cache
  (``bench/scale_http.py``).
- ``nodes`` (``--only nodes``; not in the default run, it takes minutes): the most cameras two
  recorder nodes on this machine record with no lost frame (``bench/scale_nodes.py``).
The machine's 2 cores are shared with other work: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.media import PrivateKeyFileOpener, build_fmp4
from appliance.models.media import Segment
from appliance.settings import Settings
from appliance.storage import (
    LocalDirStore,
    ReadCache,
    S3Store,
    SegmentFiles,
    SegmentStore,
)
from bench import scale_http, scale_nodes
from bench.playback import sim_clip
from bench.scale_common import print_ratios, upload_once
from tests.support.config import base_config
from tests.support.footage import store_clip
from tests.support.recorder import segments_of
from tests.support.swift import SwiftServer, new_store

FPS = 25
SEGMENT_S = 60
CAMERA_MB_S = 0.5  # 4 Mbit/s


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores (shared machine)"


def prepare(root: Path, segments: int) -> AppContext:
    """A data dir with ``segments`` real 60 s segments of one camera, local copies."""
    settings = Settings(**base_config(root, 1))
    clock = SystemClock()
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    clip = sim_clip("h264")
    clip = clip * (SEGMENT_S * segments * FPS // len(clip) + 1)
    clip = clip[: SEGMENT_S * segments * FPS]
    start_ms = clock.now_ms() - 86_400_000
    store_clip(ctx, clip, camera_id="cam01", start_ms=start_ms, segment_frames=SEGMENT_S * FPS)
    return ctx


def section_upload(ctx: AppContext, swift: SwiftServer, rounds: int) -> S3Store:
    print(f"\n== upload ({load()})")
    store = new_store(swift)
    mirror = LocalDirStore(Path(tempfile.mkdtemp(prefix="scale-mirror-")))
    targets: dict[str, tuple[SegmentStore, int]] = {
        "swift": (store, 4),
        "swift x1": (store, 1),
        "local": (mirror, 4),
    }
    figures: dict[str, list[float]] = {name: [] for name in targets}
    count = size = 0
    for _ in range(rounds):
        for name, (target, workers) in targets.items():
            elapsed, count, size = upload_once(ctx, target, "segments/", workers)
            figures[name].append(size / elapsed / 1e6)
    for name in targets:
        best = max(figures[name])
        per_s = best * 1e6 / (size / count)
        print(
            f"{name:>8}: {best:7.1f} MB/s  {per_s:5.2f} segments/s  "
            f"({count} x {size / count / 1e6:.1f} MB, best of {rounds}; all: "
            + ", ".join(f"{x:.0f}" for x in figures[name])
            + f")  = {best / CAMERA_MB_S:.0f} cameras at 4 Mbit/s"
        )
    print(f"swift / local: {max(figures['swift']) / max(figures['local']):.2f} x")
    upload_once(ctx, store, "segments/")  # leave the rows pointing at Swift for ttfb
    return store


def _ttfb(make: Callable[[], Iterator[bytes]]) -> tuple[float, float]:
    """Milliseconds to the first bytes and to the first media fragment (``moof``)."""
    began = time.perf_counter()
    stream = make()
    first = next(stream)
    elapsed = time.perf_counter() - began
    assert first
    chunk = first
    while b"moof" not in chunk:
        chunk = next(stream)
    fragment = time.perf_counter() - began
    close = getattr(stream, "close", None)
    if close is not None:
        close()  # the generator's finally: the segment's stream is closed
    time.sleep(0.05)  # let the store finish what a closed read had in flight
    return elapsed * 1000, fragment * 1000


def _get_floor(store: S3Store, key: str, repeats: int) -> float:
    """Median ms of a ranged GET of one byte: what any read from the store costs at least."""
    values = []
    for _ in range(repeats):
        began = time.perf_counter()
        stream = store.open_range(key, 0, 1)
        stream.read()
        stream.close()
        values.append((time.perf_counter() - began) * 1000)
    return statistics.median(values)


def section_ttfb(ctx: AppContext, store: S3Store, repeats: int) -> None:
    print(f"\n== ttfb ({load()})")
    segments = segments_of(ctx, "cam01")
    assert all(s.object_key for s in segments), "run the upload section first"
    opener = PrivateKeyFileOpener(ctx.settings.storage.key_dir)
    empty = Path(tempfile.mkdtemp(prefix="scale-dropped-"))  # a node without the local copy
    cache_dir = Path(tempfile.mkdtemp(prefix="scale-cache-"))
    sources: dict[str, SegmentFiles] = {
        "local disk": SegmentFiles(ctx.settings.segments_dir),
        "object store": SegmentFiles(empty, store, prefix="segments/"),
        "read cache": SegmentFiles(
            empty, store, prefix="segments/", cache=ReadCache(cache_dir, 10 * 1024**3)
        ),
    }
    warm = sources["read cache"]
    for segment in segments:  # fill the cache (and the page cache for the local copies)
        for chunk in build_fmp4([segment], segment.start_ms, segment.end_ms, opener, warm):
            del chunk
    local = sources["local disk"]
    runs: dict[str, Callable[[Segment, int], tuple[float, float]]] = {
        name: partial(_run, files, opener) for name, files in sources.items()
    }
    runs["local, no seek"] = partial(_run, local, opener, seek=False)
    rng = random.Random(19)
    for where in ("segment start", "random position"):
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for _ in range(repeats):
            segment = rng.choice(segments)
            if where == "segment start":
                at = segment.start_ms
            else:
                at = rng.randrange(segment.start_ms, segment.end_ms - 2000)
            for name, run in runs.items():
                results[name].append(run(segment, at))
        print(f"-- {where} ({repeats} requests, 60 s segments of 30 MB; {load()})")
        for metric, label in ((0, "first byte"), (1, "first fragment")):
            metrics = {name: [v[metric] for v in pairs] for name, pairs in results.items()}
            print_ratios(label, metrics, "local disk")
    floor = _get_floor(store, segments[0].object_key or "", repeats)
    print(
        f"one ranged GET of 1 byte from the store (the floor of any uncached read): {floor:.1f} ms"
    )


def _run(
    files: SegmentFiles,
    opener: PrivateKeyFileOpener,
    segment: Segment,
    at: int,
    *,
    seek: bool = True,
) -> tuple[float, float]:
    return _ttfb(partial(build_fmp4, [segment], at, at + 10_000, opener, files, seek=seek))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--only", action="append", choices=["upload", "ttfb", "http", "nodes"], default=None
    )
    parser.add_argument("--segments", type=int, default=6, help="60 s segments to move")
    parser.add_argument("--rounds", type=int, default=3, help="upload passes per target")
    parser.add_argument("--repeats", type=int, default=15, help="TTFB requests per position")
    args = parser.parse_args()
    sections = args.only or ["upload", "ttfb", "http"]
    if "nodes" in sections:  # two recorder nodes, no lost frame: bench/scale_nodes.py
        scale_nodes.main([])
        sections = [s for s in sections if s != "nodes"]
        if not sections:
            return
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    tempfile.tempdir = str(root)  # the section's scratch dirs go inside, removed at the end
    print(f"bench.scale: {load()}; preparing {args.segments} segments ...")
    ctx = prepare(root, args.segments)
    swift = SwiftServer.start(root / "swift")
    try:
        store = section_upload(ctx, swift, args.rounds) if "upload" in sections else None
        if "ttfb" in sections:
            if store is None:
                store = new_store(swift)
                upload_once(ctx, store, "segments/")
            section_ttfb(ctx, store, args.repeats)
        if "http" in sections:
            scale_http.section_http(root, swift, args.repeats, load)
    finally:
        swift.stop()
        ctx.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
