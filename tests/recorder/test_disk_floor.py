"""The recorder's own disk floor (issue 19): on a small real file system that the recording
itself fills, the recorder stops writing at the floor (alarm, gap, no write error), and
resumes once space is back. No purge daemon runs beside it, as on a recorder-only node."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from appliance.alarms import AlarmKind
from appliance.context import AppContext
from appliance.models import Alarm
from appliance.models.media import Gap
from recorder.daemon import RecorderDaemon
from recorder.sim import CameraSimulator
from recorder.status import FailReason
from tests.support.nodes import small_filesystem
from tests.support.recorder import (
    camera_entry,
    recorder_config,
    segments_of,
    sim_kwargs,
    wait_for,
)

OpenCtx = Callable[[dict[str, Any]], AppContext]
MIB = 1024**2
FLOOR = 12 * MIB


def _alarm_open(ctx: AppContext) -> bool:
    with ctx.db.session() as session:
        return (
            session.exec(
                select(Alarm).where(
                    col(Alarm.kind) == AlarmKind.recorder_disk_floor.value,
                    col(Alarm.cleared_ms).is_(None),
                )
            ).first()
            is not None
        )


def _floor_gaps(ctx: AppContext) -> list[Gap]:
    with ctx.db.session() as session:
        query = select(Gap).where(col(Gap.reason) == FailReason.disk_floor.value)
        return list(session.exec(query).all())


def test_the_recorder_stops_at_its_floor_and_resumes(
    tmp_path: Path, open_recorder_ctx: OpenCtx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with (
        small_filesystem(tmp_path / "small", 32) as small,
        CameraSimulator(2, **(sim_kwargs() | {"bitrate_kbps": 2000})) as sim,
    ):
        cameras = [camera_entry("cam01", sim.url("cam1")), camera_entry("cam02", sim.url("cam2"))]
        data = recorder_config(tmp_path, cameras, disk_floor_bytes=FLOOR,
                               disk_resume_margin_bytes=2 * MIB)  # fmt: skip
        data["storage"]["data_dir"] = str(small / "data")
        # The database lives elsewhere: the floor guards the segments' disk.
        data["database"] = {"url": f"sqlite:///{tmp_path / 'appliance.db'}"}
        ctx = open_recorder_ctx(data)
        ballast = small / "ballast"
        # Leave 3 MiB above the floor: the two cameras (2 x 250 kB/s) cross it in seconds.
        free = shutil.disk_usage(small).free
        with ballast.open("wb") as out:
            out.write(b"\0" * (free - FLOOR - 3 * MIB))
            os.fsync(out.fileno())
        service = RecorderDaemon(ctx)
        service.start()
        try:
            assert service.disk is not None
            wait_for(lambda: bool(service.disk and service.disk.paused), 40, "the floor")
            wait_for(lambda: _alarm_open(ctx), 5, "the recorder_disk_floor alarm")
            wait_for(lambda: {g.camera_id for g in _floor_gaps(ctx)} == {"cam01", "cam02"},
                     10, "a disk_floor gap per camera")  # fmt: skip
            time.sleep(2)  # the segments ended at the floor are indexed
            stored = len(segments_of(ctx))
            lowest = shutil.disk_usage(small).free
            time.sleep(4)
            assert len(segments_of(ctx)) == stored  # nothing more is written
            assert shutil.disk_usage(small).free >= lowest - 64 * 1024
            # At most the GOP each camera was in when the floor was seen went past it.
            assert lowest > FLOOR - 2 * MIB, lowest
            statuses = service.status()
            assert {s.reason for s in statuses.values()} == {FailReason.disk_floor}

            # Space comes back (someone moved the ballast): recording resumes by itself.
            resumed_ms = ctx.clock.now_ms()
            ballast.unlink()
            wait_for(lambda: not _alarm_open(ctx), 10, "the alarm cleared")
            wait_for(
                lambda: all(
                    any(s.start_ms > resumed_ms for s in segments_of(ctx, c))
                    for c in ("cam01", "cam02")
                ),
                20,
                "recording again",
            )
            assert all(g.end_ms is not None for g in _floor_gaps(ctx))
            assert service.indexer.failed == 0
        finally:
            service.stop()
    text = caplog.text
    assert "No space left" not in text and "ENOSPC" not in text
    assert "recording paused" in text and "recording resumes" in text
