"""Backup benchmark: time and size of ``take_backup`` on a large SQLite index, against a plain
online copy of the same database with SQLite's backup API into a file (the baseline).

    .venv/bin/python -m bench.backup                      # 300,000 segment rows
    .venv/bin/python -m bench.backup --segments 1300000   # 30 cameras, 30 days, 1 min segments

The rows are synthetic (random sealed keys, no segment files): the backup reads the index, not
the footage. Also timed: the signature check and the decryption of the archive (what a restore
does before it writes anything). The machine's 2 cores are shared: note the load printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import sqlite3
import tempfile
import time
from pathlib import Path

from appliance.backup import check_archive, set_backup_passphrase, take_backup
from appliance.backup.archive import open_payload, read_header
from appliance.backup.backup_key import derive_backup_key
from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.settings import Settings

PASSPHRASE = "bench backup passphrase"


def _settings(root: Path) -> Settings:
    return Settings(
        site={
            "name": "bench",
            "address": "-",
            "officer": {
                "name": "-",
                "department": "-",
                "title": "-",
                "phone": "-",
                "email": "o@example.invalid",
            },
        },
        storage={
            "data_dir": str(root / "data"),
            "key_dir": str(root / "keys"),
            "min_free_bytes": 0,
            "alarm_free_bytes": 0,
        },
        ledger={"syslog_socket": ""},
        groups=[{"name": "general", "min_days": 0, "max_days": 30}],
        cameras=[
            {
                "id": f"cam{i:02d}",
                "name": f"cam{i:02d}",
                "location": "-",
                "location_type": "lobby",
                "url": f"rtsp://127.0.0.1:8554/cam{i}",
                "group": "general",
            }
            for i in range(1, 31)
        ],
    )


def _fill(db_path: Path, key_id: str, count: int, now_ms: int) -> None:
    conn = sqlite3.connect(db_path)
    start = now_ms - 29 * 86_400_000  # all inside retention: none is minimised away
    rows = (
        (
            f"cam{n % 30 + 1:02d}",
            start + (n // 30) * 60_000,
            start + (n // 30 + 1) * 60_000,
            f"cam{n % 30 + 1:02d}/{n:09d}.seg",
            30_000_000,
            "sha256:" + secrets.token_hex(32),
            key_id,
            secrets.token_bytes(80),
            "h264",
            1920,
            1080,
            1500,
            60,
            0,
            now_ms,
        )
        for n in range(count)
    )
    conn.executemany(
        "INSERT INTO segment (camera_id, start_ms, end_ms, path, size_bytes, digest, "
        "vault_key_id, sealed_key, codec, width, height, frames, key_frames, has_audio, "
        "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.commit()
    conn.close()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segments", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        root = Path(tmp)
        settings = _settings(root)
        clock = SystemClock()
        initialize(settings, clock, insecure_no_passphrase=True)
        set_backup_passphrase(settings.storage.key_dir, PASSPHRASE, "interactive", clock.now_ms())
        db_path = settings.storage.data_dir / "appliance.db"
        ctx = AppContext.open(settings, clock)
        _fill(db_path, ctx.vault.current_key_id(), args.segments, clock.now_ms())
        size = db_path.stat().st_size
        print(f"load before: {os.getloadavg()[0]:.1f}; {args.segments:,} segment rows, "
              f"database {size / 1e6:.1f} MB")  # fmt: skip

        began = time.perf_counter()
        src = sqlite3.connect(db_path)
        dst = sqlite3.connect(root / "plain-copy.db")
        src.backup(dst)
        dst.close()
        src.close()
        baseline = time.perf_counter() - began

        rss_before = _peak_mb()
        began = time.perf_counter()
        result = take_backup(ctx, root / "backups")
        took = time.perf_counter() - began
        rss_after = _peak_mb()
        ctx.close()

        began = time.perf_counter()
        check_archive(result.path, None)
        header = read_header(result.path)
        private = derive_backup_key(PASSPHRASE, header.backup_key)
        read = 0
        with open_payload(result.path, header, private) as tar:
            for member in tar:
                extracted = tar.extractfile(member)
                assert extracted is not None
                read += len(extracted.read())
        opened = time.perf_counter() - began

        print("| measure | figure | baseline | ratio |")
        print("|---|---|---|---|")
        print(f"| take_backup (copy, minimise, encrypt, sign) | {took:.2f} s | plain backup-API "
              f"copy {baseline:.2f} s | {took / baseline:.2f} x |")  # fmt: skip
        print(f"| archive size | {result.size_bytes / 1e6:.1f} MB | database "
              f"{size / 1e6:.1f} MB | {result.size_bytes / size:.2f} x |")  # fmt: skip
        print(f"| check signature + decrypt all ({read / 1e6:.1f} MB) | {opened:.2f} s | | |")
        print(f"| peak RSS during the backup | {rss_after:.0f} MB (before {rss_before:.0f}) | | |")
        print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
