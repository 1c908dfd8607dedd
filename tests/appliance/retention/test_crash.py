"""Invariant 4: a crash at any purge step, then a restart, leaves no key without its file, no
file without its key, and every destruction recorded exactly once (destruction ledger and
tamper-evident ledger). Crashes are injected twice: an exception from a hook between steps,
and a real SIGKILL of a child process at each step."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import DestructionRecord, PurgeJob, Segment
from appliance.retention import Retention
from tests.support.segments import MINUTE_MS, assert_consistent, files_on_disk, make_segments

STEPS = ["shredding", "shredded", "unlinking", "unlinked", "finished"]
REPO = Path(__file__).resolve().parents[3]


class Crash(Exception):
    pass


def _fill(ctx: AppContext, clock: FakeClock) -> int:
    """120 expired segments over three cameras (three batches of 50) and 10 young ones."""
    t0 = clock.now_ms()
    for camera in ("cam01", "cam02", "or01"):
        make_segments(ctx, camera, [t0 + i * MINUTE_MS for i in range(40)])
    clock.advance(timedelta(days=31))
    make_segments(ctx, "cam01", [clock.now_ms() + i * MINUTE_MS for i in range(10)])
    return 120


def _check_complete(ctx: AppContext, purged: int) -> None:
    assert_consistent(ctx)
    with ctx.db.session() as session:
        left = session.exec(select(func.count()).select_from(Segment)).one()
        records = session.exec(select(DestructionRecord)).all()
    assert left == 10
    assert sum(r.segment_count for r in records) == purged
    entries = ctx.ledger.entries(events=[EventType.purge], limit=None)
    assert sorted(e.data["destruction_id"] for e in entries) == sorted(r.id or 0 for r in records)
    assert sum(e.data["segments"] for e in entries) == purged
    assert ctx.ledger.verify().ok


@pytest.mark.parametrize("step", STEPS)
def test_exception_between_steps_then_restart(
    any_ctx: AppContext, clock: FakeClock, step: str
) -> None:
    ctx = any_ctx
    purged = _fill(ctx, clock)
    calls = 0

    def hook(name: str, _job_id: int) -> None:
        nonlocal calls
        if name == step:
            calls += 1
            if calls == 2:  # the second batch
                raise Crash(step)

    with pytest.raises(Crash):
        Retention(ctx, hook=hook).run_cycle()

    with ctx.db.session() as session:
        jobs = session.exec(select(func.count()).select_from(PurgeJob)).one()
        keyless = session.exec(
            select(func.count()).select_from(Segment).where(Segment.sealed_key == None)  # noqa: E711
        ).one()
    # Before the shred commit nothing of batch 2 happened; after it the keys are gone first.
    assert jobs == (0 if step in ("shredding", "finished") else 1)
    assert keyless == (50 if step in ("shredded", "unlinking", "unlinked") else 0)

    report = Retention(ctx).run_cycle()  # the restart
    assert report.recovered_batches == (0 if step in ("shredding", "finished") else 1)
    _check_complete(ctx, purged)


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_at_each_step_then_restart(
    ctx: AppContext, clock: FakeClock, tmp_path: Path, step: str
) -> None:
    purged = _fill(ctx, clock)
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(ctx.settings.model_dump(mode="json")))
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.appliance.retention._crash_child",
            str(settings_file),
            str(clock.now_ms()),
            step,
            "2",
        ],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]
    before = files_on_disk(ctx.settings.segments_dir)
    assert len(before) > 10  # the kill left work to do

    Retention(ctx).run_cycle()  # the restart
    _check_complete(ctx, purged)
