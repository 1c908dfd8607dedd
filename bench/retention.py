"""Retention benchmark: timeline query and one day's purge on 30 cameras x 30 days of 1-minute
segments (1,296,000 rows), on SQLite and PostgreSQL.

    .venv/bin/python -m bench.retention                 # both databases (about 3-5 minutes)
    .venv/bin/python -m bench.retention --no-postgres --days 10

Figures, each with its ratio to the named baseline:

- timeline query of one camera-day (``appliance.retention.segments_in`` on the (camera_id,
  start_ms) index; and ``appliance.viewing.timeline.camera_day`` when installed), median and
  p95 over random camera-days; baseline: the issue's target, 20 ms;
- purge of one day's expiry across all cameras (43,200 segments, each with its file) by the real
  purge cycle (``Retention.run_cycle``: journal, crypto-shred, destruction records and ledger
  entries, unlink, fsync, delete), twice, for two consecutive days; baselines: the target, 10 s,
  and a naive purge (one transaction per segment, as a per-segment design would), measured on
  1,000 segments of a third day and scaled;
- resident memory before and after each purge (flat: no per-row state is kept).

Since issue 12 the cycle also scrubs database remnants (SQLite: ``secure_delete`` on every
connection and ``wal_checkpoint(TRUNCATE)`` after each batch; PostgreSQL: one ``VACUUM`` of the
purged tables per cycle), and that time is inside the purge figure; each purge line says whether
the scrub succeeded.

Rows carry real sealed keys (a pool of 256 sealed to the vault key); only the days purged have
files (small, 64 bytes). SQLite is in WAL with synchronous=FULL; PostgreSQL runs with fsync on.
The machine's 2 cores are shared with other work: the load average is printed.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from nacl.public import PublicKey, SealedBox

from appliance.cli.main import initialize
from appliance.clock import FakeClock, to_ms
from appliance.context import AppContext
from appliance.retention import Retention, segments_in
from appliance.settings import Settings
from bench.ledger import DurablePostgres

DAY_MS = 86_400_000
MINUTE_MS = 60_000
START = datetime(2026, 1, 1, tzinfo=UTC)
MAX_DAYS = 30  # the general group's max_days
TARGET_TIMELINE_MS = 20.0
TARGET_PURGE_S = 10.0
FILE_BYTES = 64


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _settings(root: Path, cameras: int, url: str) -> Settings:
    return Settings(
        site={
            "name": "벤치마크의원",
            "officer": {"name": "김보호", "department": "원장단", "title": "원장", "phone": "0"},
        },
        storage={
            "data_dir": str(root / "data"),
            "key_dir": str(root / "keys"),
            "min_free_bytes": 0,
            "alarm_free_bytes": 0,
        },
        database={"url": url},
        groups=[{"name": "general", "min_days": 0, "max_days": 30}],
        cameras=[
            {
                "id": f"cam{i:02d}",
                "name": f"카메라 {i}",
                "location": "로비",
                "location_type": "lobby",
                "url": f"rtsp://127.0.0.1:8554/cam{i}",
                "group": "general",
            }
            for i in range(1, cameras + 1)
        ],
    )


def _path(camera: str, start_ms: int) -> str:
    day = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
    return f"{camera}/{day:%Y/%m/%d}/{start_ms}-{start_ms % 99991:05d}.seg"


def _rows(ctx: AppContext, cameras: int, days: int) -> Iterator[tuple[Any, ...]]:
    key_id, public = ctx.vault.current_public_key()
    box = SealedBox(PublicKey(public))
    pool = [box.encrypt(os.urandom(32)) for _ in range(256)]
    t0 = to_ms(START)
    for minute in range(days * 1440):
        start = t0 + minute * MINUTE_MS
        for c in range(1, cameras + 1):
            cam = f"cam{c:02d}"
            yield (
                cam,
                start,
                start + MINUTE_MS,
                _path(cam, start),
                FILE_BYTES,
                f"sha256:{minute * 64 + c:064x}",
                key_id,
                pool[(minute + c) % 256],
                "h264",
                1920,
                1080,
                1500,
                60,
                False,
                start + MINUTE_MS,
            )


_COLUMNS = (
    "camera_id, start_ms, end_ms, path, size_bytes, digest, vault_key_id, sealed_key, "
    "codec, width, height, frames, key_frames, has_audio, created_ms"
)


def _fill(ctx: AppContext, cameras: int, days: int) -> None:
    """Bulk-load the index (setup, not measured): sqlite3 executemany / PostgreSQL COPY."""
    url = ctx.settings.database_url
    rows = _rows(ctx, cameras, days)
    if url.startswith("sqlite"):
        lite = sqlite3.connect(url.removeprefix("sqlite:///"))
        with lite:
            lite.executemany(
                f"INSERT INTO segment ({_COLUMNS}) VALUES ({', '.join('?' * 15)})",
                rows,
            )
        lite.close()
    else:
        with (
            psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn,
            conn.cursor() as cur,
            cur.copy(f"COPY segment ({_COLUMNS}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute("ANALYZE segment")


def _write_files(ctx: AppContext, cameras: int, day: int, minutes: int = 1440) -> None:
    root = ctx.settings.segments_dir
    t0 = to_ms(START) + day * DAY_MS
    data = b"\0" * FILE_BYTES
    for c in range(1, cameras + 1):
        cam = f"cam{c:02d}"
        for minute in range(minutes):
            path = root / _path(cam, t0 + minute * MINUTE_MS)
            if minute == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _timeline(ctx: AppContext, cameras: int, days: int, runs: int) -> None:
    rng = random.Random(7)
    picks = [(f"cam{rng.randint(1, cameras):02d}", rng.randint(1, days - 1)) for _ in range(runs)]
    samples: list[float] = []
    found = 0
    with ctx.db.session() as session:
        for cam, day in picks:
            start = to_ms(START) + day * DAY_MS
            t = time.perf_counter()
            found += len(segments_in(session, [cam], start, start + DAY_MS - 1))
            samples.append((time.perf_counter() - t) * 1000)
    _report_timeline("segments_in (retention, index range)", samples, found / runs)
    try:
        from appliance.viewing.timeline import camera_day
    except ImportError:
        return
    samples = []
    with ctx.db.session() as session:
        for cam, day in picks:
            t = time.perf_counter()
            camera_day(session, cam, (START + timedelta(days=day)).date(), ctx.settings.zone, 0)
            samples.append((time.perf_counter() - t) * 1000)
    _report_timeline("camera_day (viewing timeline)", samples, None)


def _report_timeline(label: str, samples: list[float], rows: float | None) -> None:
    median = statistics.median(samples)
    p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
    extra = f", {rows:.0f} rows each" if rows is not None else ""
    print(
        f"  timeline, {label:<38} median {median:7.2f} ms  p95 {p95:7.2f} ms"
        f"  ({median / TARGET_TIMELINE_MS:.2f}x target 20 ms{extra})",
        flush=True,
    )


def _naive_purge_s(ctx: AppContext, day: int, count: int) -> float:
    """One transaction per segment: select it, null its key, unlink, delete the row, record."""
    from sqlalchemy import text

    root = ctx.settings.segments_dir
    start = to_ms(START) + day * DAY_MS
    with ctx.db.session() as session:
        ids = [
            int(r[0])
            for r in session.execute(
                text("SELECT id FROM segment WHERE start_ms >= :s ORDER BY start_ms LIMIT :n"),
                {"s": start, "n": count},
            ).all()
        ]
    t = time.perf_counter()
    for segment_id in ids:
        with ctx.db.session() as session:
            row = session.execute(
                text("SELECT path, camera_id FROM segment WHERE id = :i"), {"i": segment_id}
            ).one()
            session.execute(
                text("UPDATE segment SET sealed_key = NULL WHERE id = :i"), {"i": segment_id}
            )
            ctx.ledger.append(
                _purge_event(),
                actor="naive",
                camera_id=row[1],
                data={"segments": 1},
                session=session,
            )
        (root / row[0]).unlink(missing_ok=True)
        with ctx.db.session() as session:
            session.execute(text("DELETE FROM segment WHERE id = :i"), {"i": segment_id})
    return time.perf_counter() - t


def _purge_event() -> Any:
    from appliance.ledger import EventType

    return EventType.purge


def run(url: str, root: Path, cameras: int, days: int, label: str) -> None:
    clock = FakeClock(START)
    settings = _settings(root, cameras, url)
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    try:
        rows = cameras * days * 1440
        t = _timed(lambda: _fill(ctx, cameras, days))
        print(f"{label}: {rows:,} segment rows loaded in {t:.1f} s (setup)", flush=True)
        _timeline(ctx, cameras, days, runs=200)

        retention = Retention(ctx)
        per_day = cameras * 1440
        scrub_s = _time_scrubs(ctx)
        for day in (0, 1):
            _write_files(ctx, cameras, day)
            # The instant the whole of `day` is due and nothing of the next day is.
            clock.set(START + timedelta(days=day + MAX_DAYS + 1, milliseconds=-1))
            gc.collect()
            before = rss_mb()
            scrub_s[0] = 0.0
            start = time.perf_counter()
            report = retention.run_cycle()
            elapsed = time.perf_counter() - start
            _check(report.expired.segments, per_day)
            after = rss_mb()
            print(
                f"  purge of day {day}: {per_day:,} segments + files in {elapsed:6.2f} s "
                f"({per_day / elapsed:,.0f}/s; {elapsed / TARGET_PURGE_S:.2f}x target 10 s)  "
                f"RSS {before:.0f} -> {after:.0f} MB; scrub {scrub_s[0]:.2f} s of it "
                f"(done: {report.remnants_scrubbed}); load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        sample = 1000
        _write_files(ctx, cameras, 2, minutes=sample // cameras + 1)
        naive = _naive_purge_s(ctx, 2, sample) * per_day / sample
        print(
            f"  naive per-segment purge, scaled to {per_day:,}: {naive:6.1f} s "
            f"(batched is {naive / elapsed:.0f}x faster)",
            flush=True,
        )
    finally:
        ctx.close()


def _time_scrubs(ctx: AppContext) -> list[float]:
    """Accumulate the time spent in ``Database.scrub_remnants`` into the returned cell."""
    total = [0.0]
    original = ctx.db.scrub_remnants

    def timed() -> bool:
        start = time.perf_counter()
        try:
            return original()
        finally:
            total[0] += time.perf_counter() - start

    setattr(ctx.db, "scrub_remnants", timed)  # noqa: B010 - an instance override, bench only
    return total


def _check(purged: int, expected: int) -> None:
    if purged != expected:
        raise SystemExit(f"purged {purged}, expected {expected}")


@contextmanager
def _tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-retention-") as name:
        yield Path(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=30)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores, shared)", flush=True)
    with _tmp() as root:
        run(f"sqlite:///{root / 'data' / 'appliance.db'}", root, args.cameras, args.days, "SQLite")
    if not args.no_postgres:
        with _tmp() as root:
            server = DurablePostgres()
            server.start()
            try:
                run(server.create_database(), root, args.cameras, args.days, "PostgreSQL")
            finally:
                server.stop()
    print(f"load average: {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
