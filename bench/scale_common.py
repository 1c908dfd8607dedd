"""What the sections of bench/scale.py share: one uploader pass over a data dir's segments, and
the lines that print times against a baseline."""

from __future__ import annotations

import statistics
import time

from sqlalchemy import update

from appliance.context import AppContext
from appliance.models.media import Segment
from appliance.storage import SegmentFiles, SegmentStore, Uploader

__all__ = ["TARGET_RATIO", "print_ratios", "upload_once"]

#: Playback's first byte from the object store, against local disk (issue 19).
TARGET_RATIO = 2.0


def upload_once(
    ctx: AppContext, store: SegmentStore, prefix: str, workers: int = 4
) -> tuple[float, int, int]:
    """Seconds, segments and bytes of one uploader pass over every segment (rows first marked
    not uploaded, so every pass uploads them all)."""
    with ctx.db.session() as session:
        session.execute(update(Segment).values(object_key=None, uploaded_ms=None))
    files = SegmentFiles(ctx.settings.segments_dir, store, prefix=prefix)
    uploader = Uploader(ctx.db, files, ctx.clock, workers=workers)
    store.prepare()
    began = time.perf_counter()
    result = uploader.run_once()
    elapsed = time.perf_counter() - began
    if result.failed:
        raise RuntimeError(f"{result.failed} uploads failed")
    return elapsed, result.uploaded, result.bytes


def print_ratios(label: str, sources: dict[str, list[float]], baseline: str) -> None:
    """One line per source: median and p95 of its times (ms) and the median's ratio to
    ``baseline``'s against the target."""
    base = statistics.median(sources[baseline])
    for name, times in sources.items():
        values = sorted(times)
        med = statistics.median(values)
        p95 = values[int(0.95 * (len(values) - 1))]
        print(
            f"{label:>14} {name:>14}: median {med:7.1f} ms  p95 {p95:7.1f} ms  "
            f"{med / base:5.2f} x {baseline} (target < {TARGET_RATIO:.0f} x)"
        )
