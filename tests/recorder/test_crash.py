"""kill -9 of a recording ``appliance run`` at random moments, then a restart (invariant 3)."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from sqlmodel import col, select

from appliance.context import AppContext
from appliance.media import PrivateKeyFileOpener, build_fmp4
from appliance.models.media import Gap, PendingSegment
from recorder.daemon import RecorderDaemon
from recorder.sim import CameraSimulator
from recorder.status import FailReason
from tests.support.recorder import (
    camera_entry,
    check_camera_segments,
    kill_9_while_recording,
    recorder_config,
    scan_for_plaintext,
    segments_of,
    served_frames,
    sim_kwargs,
    wait_for,
)

OpenCtx = Callable[[dict[str, Any]], AppContext]


@pytest.mark.slow
def test_kill_9_then_restart(tmp_path: Path, open_recorder_ctx: OpenCtx) -> None:
    rng = random.Random(20260301)
    with CameraSimulator(2, **sim_kwargs()) as sim:
        cameras = [camera_entry("cam01", sim.url("cam1")), camera_entry("cam02", sim.url("cam2"))]
        data = recorder_config(tmp_path, cameras)
        ctx = open_recorder_ctx(data)
        kill_9_while_recording(ctx, data, tmp_path, kills=3, rng=rng)
        indexed = len(segments_of(ctx))

        service = RecorderDaemon(ctx)
        restart_ms = ctx.clock.now_ms()
        service.start()
        try:
            assert service.report is not None and service.report.missing_files == []
            wait_for(lambda: len(segments_of(ctx)) >= indexed + 4, 30, "footage after restart")
        finally:
            service.stop()

    with ctx.db.session() as session:
        assert session.exec(select(PendingSegment)).all() == []
        gaps = session.exec(
            select(Gap).where(col(Gap.reason) == FailReason.recorder_not_running.value)
        ).all()
    assert not list(ctx.settings.segments_dir.rglob("*.tmp"))
    # Each camera has one gap per kill; after the restart it recorded again within 5 s.
    assert len(gaps) == 2 * 3 and all(g.end_ms is not None for g in gaps)
    last = [g for g in gaps if g.end_ms and g.end_ms >= restart_ms]
    assert len(last) == 2 and all((g.end_ms or 0) - restart_ms <= 5000 for g in last)
    served = served_frames()
    opener = PrivateKeyFileOpener(ctx.settings.storage.key_dir)
    for camera_id in ("cam01", "cam02"):
        frames = check_camera_segments(ctx, camera_id, served)
        segments = segments_of(ctx, camera_id)
        mp4 = b"".join(
            build_fmp4(
                segments, segments[0].start_ms, segments[-1].end_ms, opener,
                ctx.settings.segments_dir,
            )
        )  # fmt: skip
        with av.open(io.BytesIO(mp4), "r") as container:
            assert sum(1 for _ in container.decode(video=0)) == frames
    assert scan_for_plaintext(ctx.settings.storage.data_dir) == []
