"""Ledger benchmark: durable appends/s and verification entries/s, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.ledger                  # 1,000,000 entries (about 2-4 minutes)
    .venv/bin/python -m bench.ledger --entries 100000 --no-postgres

Appends are durable: SQLite in WAL mode with synchronous=FULL (appliance.db), PostgreSQL with
fsync on and synchronous_commit on. Figures printed with their ratio to the baselines: the issue's
targets (5,000 appends/s, 200,000 verified entries/s) and architecture.md's measured 3,700
single-transaction appends/s. The machine's 2 cores are shared: note the load average printed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from appliance.clock import SystemClock
from appliance.db import Database
from appliance.keys import create_signing_key
from appliance.ledger import EventType, Ledger, NewEntry
from tests.support.postgres import PostgresServer

TARGET_APPENDS = 5_000.0
TARGET_VERIFY = 200_000.0
SINGLE_TXN_BASELINE = 3_700.0


class DurablePostgres(PostgresServer):
    """The tests' throw-away server, minus its ``-c fsync=off``: appends here must be durable."""

    def _cmd(self, *args: str) -> list[str]:
        kept = list(args)
        if "fsync=off" in kept:
            at = kept.index("fsync=off")
            del kept[at - 1 : at + 1]
        return super()._cmd(*kept)


def _entry(i: int) -> NewEntry:
    """A typical entry: a segment's creation (the most frequent event)."""
    cam = f"cam{i % 30 + 1:02d}"
    start_ms = 1_772_323_200_000 + i * 60_000
    return NewEntry(
        EventType.segment_created,
        actor="recorder",
        camera_id=cam,
        data={
            "segment_id": i,
            "path": f"{cam}/2026/03/01/{i:012d}.seg",
            "blake2b": f"{i:064x}",
            "start_ms": start_ms,
            "end_ms": start_ms + 60_000,
            "size_bytes": 30_000_000 + i % 1000,
        },
    )


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def _line(label: str, rate: float, unit: str, baselines: list[tuple[str, float]]) -> None:
    ratios = ", ".join(f"{rate / value:.2f}x {name}" for name, value in baselines)
    print(f"  {label:<44} {rate:>10,.0f} {unit:<10} ({ratios})", flush=True)


def _timed(fn: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    count = fn()
    return count, time.perf_counter() - start


def raw_single_txn(db: Database, count: int) -> float:
    """The floor of this disk right now: bare driver, one small INSERT per transaction."""
    raw = db.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        cur = driver.cursor()
        cur.execute("CREATE TABLE bench_raw (n INTEGER, payload TEXT)")
        driver.commit()
        insert = (
            "INSERT INTO bench_raw VALUES (?, ?)"
            if db.is_sqlite
            else ("INSERT INTO bench_raw VALUES (%s, %s)")
        )
        start = time.perf_counter()
        for n in range(count):
            cur.execute(insert, (n, "x" * 200))
            driver.commit()
        seconds = time.perf_counter() - start
        cur.execute("DROP TABLE bench_raw")
        driver.commit()
    finally:
        raw.close()
    return _rate(count, seconds)


def run(db: Database, key_dir: Path, entries: int, batch: int, single: int, threads: int) -> None:
    ledger = Ledger(db, SystemClock(), key_dir=key_dir)
    raw = raw_single_txn(db, single)
    targets = [
        ("target 5,000/s", TARGET_APPENDS),
        ("arch. single-txn 3,700/s", SINGLE_TXN_BASELINE),
        (f"raw single-txn now {raw:,.0f}/s", raw),
    ]
    _line("raw driver INSERT, one transaction each", raw, "inserts/s", targets[:2])
    made = 0

    def singles() -> int:
        nonlocal made
        for _ in range(single):
            ledger.append_many([_entry(made)])
            made += 1
        return single

    count, seconds = _timed(singles)
    _line("append, one transaction each (1 thread)", _rate(count, seconds), "appends/s", targets)

    per_thread = max(1, single * 4 // threads)

    def concurrent() -> int:
        nonlocal made
        base = made

        def work(t: int) -> None:
            for k in range(per_thread):
                ledger.append_many([_entry(base + t * per_thread + k)])

        pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        made += threads * per_thread
        return threads * per_thread

    count, seconds = _timed(concurrent)
    _line(
        f"append from {threads} threads (group commit)", _rate(count, seconds), "appends/s", targets
    )

    def batches() -> int:
        nonlocal made
        done = 0
        while made < entries:
            size = min(batch, entries - made)
            ledger.append_many([_entry(made + k) for k in range(size)])
            made += size
            done += size
        return done

    count, seconds = _timed(batches)
    if count:
        _line(f"append_many, {batch} per transaction", _rate(count, seconds), "appends/s", targets)

    ledger.sign_head()
    # The first pass reads pages just written (PostgreSQL also sets their hint bits then); a
    # verification on site reads a ledger written over days, like the second pass.
    for label in ("first pass", "second pass"):
        start, cpu = time.perf_counter(), time.process_time()
        report = ledger.verify()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert report.ok, report.summary()
        _line(
            f"verify {report.entries_checked:,} entries, {label}",
            _rate(report.entries_checked, seconds),
            "entries/s",
            [("target 200,000/s", TARGET_VERIFY)],
        )
        # Per CPU-second of this process: what one free core gives, whatever else runs here
        # (on PostgreSQL the server's own work is not in it).
        _line(
            "  same, per CPU-second of the verifier",
            _rate(report.entries_checked, cpu),
            "entries/s",
            [("target 200,000/s", TARGET_VERIFY)],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger size to verify")
    parser.add_argument("--batch", type=int, default=1000, help="entries per append_many")
    parser.add_argument("--single", type=int, default=2000, help="single-entry appends")
    parser.add_argument("--threads", type=int, default=16, help="threads for group commit")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    print(f"ledger benchmark: {args.entries:,} entries; load average {os.getloadavg()}")

    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        root = Path(tmp)
        key_dir = root / "keys"
        create_signing_key(key_dir)
        print("SQLite (WAL, synchronous=FULL), file on", root)
        db = Database(f"sqlite:///{root / 'ledger.db'}")
        db.migrate()
        run(db, key_dir, args.entries, args.batch, args.single, args.threads)
        db.dispose()

        if not args.no_postgres:
            server = DurablePostgres()
            server.start()
            try:
                with psycopg.connect(server.admin_dsn, autocommit=True) as pg:
                    fsync = pg.execute("SHOW fsync").fetchone()
                    sync = pg.execute("SHOW synchronous_commit").fetchone()
                settings = f"fsync={fsync and fsync[0]}, synchronous_commit={sync and sync[0]}"
                print(f"PostgreSQL ({settings})")
                db = Database(server.create_database())
                db.migrate()
                run(db, key_dir, args.entries, args.batch, args.single, args.threads)
                db.dispose()
            finally:
                server.stop()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
