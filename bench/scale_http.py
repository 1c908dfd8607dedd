"""Playback time to first byte as a viewer gets it, over HTTP: footage on local disk against
footage read from the object store (issue 19; the ``http`` section of bench/scale.py).

``bench.scale``'s ``ttfb`` section times ``build_fmp4`` alone, where local disk answers in 2-4 ms
and any GET to the store costs more than that. This section times what a signed-in staff member
waits for: ``GET /api/viewing/{id}/media`` of an open playback session, served by
``appliance run --only web`` in its own process (session cookie and CSRF checks, the grant and
span checks, the segment rows, the key unsealed, the fMP4 streamed), with the bench as the HTTP
client on loopback, as bench/playback.py does.

The site: 10 minutes of one camera's history (the simulator's 1080p H.264 clip, real encrypted
60 s segments), uploaded to OpenStack Swift (s3api) on loopback; the web node's ``[storage]``
names the bucket, with ``cache_max_bytes = 0`` (no read cache: every request reads the store).
Two web nodes of the site run at once, serving the same requests (the same positions, in the
same order) in turns of five, so that the machine's drift falls on both alike:

- *local disk* (baseline): the node whose segments directory holds the files the recorder
  wrote (read first when present);
- *object store*: a node whose segments directory is empty, as on a web node that never had
  the files or a recorder node whose copies were dropped after upload.

Positions: segment starts and random positions (each request asks for 10 s; the client stops
reading at the first picture, as a viewer scrubbing the timeline does). First byte is the first
body byte of the response (the fMP4 init); first picture is the first ``mdat``. Two paces:
*back to back* (the next request as soon as the previous one is dropped: the store is still
sending what the dropped read asked for, and Swift shares the two cores with the web node) and
*0.3 s apart* (a person clicking the timeline; what was in flight has finished).
Target: object store under 2 x local disk.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.settings import Settings
from bench import playback
from bench.scale_common import print_ratios, upload_once
from tests.support.config import to_toml
from tests.support.swift import SwiftServer, new_store, storage_section, write_credentials

__all__ = ["section_http"]

SPAN_MS = 10_000
BLOCK = 5  # requests a node serves before the other takes its turn
PACES = {"back to back": 0.0, "0.3 s apart": 0.3}


def _upload(site: playback.Site, swift: SwiftServer) -> None:
    """Every segment of the site into a fresh bucket; the config then names the bucket."""
    store = new_store(swift)
    storage = storage_section(
        swift, store, write_credentials(site.root / "s3.toml"), cache_max_bytes=0
    )
    site.data["storage"].update(storage)
    site.config.write_text(to_toml(site.data), encoding="utf-8")
    ctx = AppContext.open(Settings(**site.data), SystemClock())
    try:
        _, uploaded, _ = upload_once(ctx, store, "segments/")
        if not uploaded:
            raise RuntimeError("upload: no segment to upload")
    finally:
        ctx.close()


def _positions(site: playback.Site, repeats: int) -> dict[str, list[int]]:
    rng = random.Random(19)
    span = playback.HISTORY_MIN * 60_000
    starts = [
        site.history_start_ms + 60_000 * rng.randrange(0, playback.HISTORY_MIN - 1)
        for _ in range(max(repeats, 1))
    ]
    anywhere = [
        site.history_start_ms + rng.randrange(0, span - 2 * SPAN_MS) for _ in range(repeats)
    ]
    return {"segment start": starts, "random position": anywhere}


def _store_only(site: playback.Site) -> playback.Site:
    """A second web node of the same site whose segments directory is empty: it reads every
    segment from the store (a web node that never had the files, or a recorder node whose
    copies were dropped after upload). Same database, keys and accounts; its own port."""
    data = copy.deepcopy(site.data)
    empty = site.root / "segments-elsewhere"
    empty.mkdir(exist_ok=True)
    data["storage"]["segments_dir"] = str(empty)
    data["server"]["port"] = playback.free_port()
    config = site.root / "appliance-store.toml"
    config.write_text(to_toml(data), encoding="utf-8")
    return dataclasses.replace(site, data=data, config=config, port=data["server"]["port"])


def _measure(
    sites: dict[str, playback.Site], positions: dict[str, list[int]]
) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """(first byte, first picture) in ms for every position, per node. Both nodes run at once
    and take turns in blocks of ``BLOCK`` requests, so the machine's drift (its speed moves
    25-35 % within minutes) falls on both alike; back to back stays back to back inside a
    block."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for site in sites.values():  # inside the try: a node that fails stops the other
            procs.append(playback.start_appliance(site, ["web"]))
        start = next(iter(sites.values())).history_start_ms  # one site: the same history
        end = start + playback.HISTORY_MIN * 60_000
        viewers = {
            name: playback.Viewer(site, site.viewers[0], "hist264", start, end)
            for name, site in sites.items()
        }
        for viewer in viewers.values():
            viewer.fetch(start, start + 1000, whole=False)  # warm
        results: dict[str, dict[str, list[tuple[float, float]]]] = {n: {} for n in sites}
        for pace, pause_s in PACES.items():
            for where, starts in positions.items():
                for name in sites:
                    results[name][f"{where}, {pace}"] = []
                for block, first in enumerate(range(0, len(starts), BLOCK)):
                    order = list(sites) if block % 2 == 0 else list(reversed(sites))
                    for name in order:
                        for at in starts[first : first + BLOCK]:
                            time.sleep(pause_s)
                            got = viewers[name].fetch(at, at + SPAN_MS, whole=False)
                            results[name][f"{where}, {pace}"].append(
                                (got.first_byte_ms, got.first_picture_ms)
                            )
        for viewer in viewers.values():
            viewer.close()
        return results
    finally:
        for proc in procs:
            playback.stop_appliance(proc)


def section_http(root: Path, swift: SwiftServer, repeats: int, load: Callable[[], str]) -> None:
    print(f"\n== http: playback time to first byte through the API ({load()})")
    site = playback.prepare(root / "http", None, cameras=1, viewers=1)
    _upload(site, swift)
    positions = _positions(site, repeats)
    measured = _measure({"local disk": site, "object store": _store_only(site)}, positions)
    local, remote = measured["local disk"], measured["object store"]
    for where in local:
        print(f"-- {where} ({repeats} requests of {SPAN_MS // 1000} s; {load()})")
        for metric, label in ((0, "first byte"), (1, "first picture")):
            sources = {"local disk": local[where], "object store": remote[where]}
            times = {name: [v[metric] for v in pairs] for name, pairs in sources.items()}
            print_ratios(label, times, "local disk")
