"""Recording into a real object store (OpenStack Swift, s3api): upload, playback from the store
with the local copy dropped, fsck of the objects, purge of the objects (issue 19)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.media import PrivateKeyFileOpener, build_fmp4
from appliance.models import DestructionRecord
from appliance.retention import Retention
from appliance.retention.destruction import Method, Reason
from appliance.retention.fsck import ProblemKind, fsck
from recorder.daemon import RecorderDaemon
from recorder.sim import CameraSimulator
from tests.support.footage import decode_mp4
from tests.support.recorder import (
    camera_entry,
    frame_needles,
    recorder_config,
    scan_for_plaintext,
    segments_of,
    served_frames,
    sim_kwargs,
    wait_for,
)
from tests.support.swift import SwiftServer, new_store, storage_section, write_credentials

OpenCtx = Callable[[dict[str, Any]], AppContext]


@pytest.mark.swift
def test_record_upload_play_from_the_store_fsck_and_purge(
    tmp_path: Path, open_recorder_ctx: OpenCtx, swift_server: SwiftServer
) -> None:
    store = new_store(swift_server)
    with CameraSimulator(2, **sim_kwargs()) as sim:
        cameras = [camera_entry("cam01", sim.url("cam1")), camera_entry("cam02", sim.url("cam2"))]
        data = recorder_config(tmp_path, cameras)
        data["storage"].update(
            storage_section(
                swift_server,
                store,
                write_credentials(tmp_path / "s3.toml"),
                local_copy="drop_after_upload",
                cache_max_bytes=64 * 1024**2,
            )
        )
        ctx = open_recorder_ctx(data)
        service = RecorderDaemon(ctx)
        service.start()
        try:
            wait_for(
                lambda: sum(1 for s in segments_of(ctx) if s.location == "object") >= 6,
                timeout_s=40,
                what="six segments uploaded and their local copies dropped",
            )
        finally:
            service.stop()
    files = ctx.segment_files
    prefix = ctx.settings.storage.object_prefix
    segments = segments_of(ctx)
    assert {s.camera_id for s in segments} == {"cam01", "cam02"}
    # The uploader's last pass ran on the way down: everything indexed is in the store, and
    # only there (the policy drops local copies once the store confirmed the object).
    for segment in segments:
        assert segment.location == "object", segment
        assert segment.object_key == prefix + segment.path
        assert not (ctx.settings.segments_dir / segment.path).exists()
        info = store.stat(segment.object_key)
        assert info is not None and info.size_bytes == segment.size_bytes
    assert [o.key for o in store.list(prefix)] == sorted(s.object_key or "" for s in segments)
    needles = frame_needles([sig for sig, _ in served_frames()])
    assert scan_for_plaintext(ctx.settings.storage.data_dir, needles) == []
    assert scan_for_plaintext(swift_server.root / "srv", needles) == []

    # Playback from the object store: every frame of a camera's footage, through the cache.
    opener = PrivateKeyFileOpener(ctx.settings.storage.key_dir)
    cam1 = [s for s in segments if s.camera_id == "cam01"]
    start, end = cam1[0].start_ms, cam1[-1].end_ms
    assert files.cache is not None
    played = decode_mp4(b"".join(build_fmp4(cam1, start, end, opener, files)))
    assert len(played) == sum(s.frames for s in cam1)
    # Each object downloaded once: the first by the player, the others by its read-ahead
    # (the next segment fetched into the cache while one plays), which the player then hit.
    assert files.cache.misses == len(cam1) and files.cache.hits == len(cam1) - 1
    again = decode_mp4(b"".join(build_fmp4(cam1, start, end, opener, files)))
    assert len(again) == len(played) and files.cache.hits == 2 * len(cam1) - 1

    # fsck: clean; then an object deleted behind the appliance's back and a stray object.
    report = fsck(ctx)
    assert report.clean, report.problems
    assert report.objects == len(segments)
    victim = segments[0]
    assert victim.object_key is not None
    store.delete(victim.object_key)
    files.cache.discard(victim.object_key)
    stray = tmp_path / "stray"
    stray.write_bytes(b"\x89CCTVSG\n" + bytes(100))
    store.put(prefix + "cam02/stray.seg", stray)
    report = fsck(ctx)
    found = {(p.kind, p.path) for p in report.problems}
    assert found == {
        (ProblemKind.missing_object, victim.object_key),
        (ProblemKind.orphan_object, prefix + "cam02/stray.seg"),
    }
    fsck(ctx, repair=True)
    assert store.stat(prefix + "cam02/stray.seg") is None
    with ctx.db.session() as session:
        removed = session.exec(
            select(DestructionRecord).where(DestructionRecord.reason == Reason.file_missing.value)
        ).all()
    assert [(r.camera_id, r.segment_count) for r in removed] == [(victim.camera_id, 1)]
    assert fsck(ctx).clean

    # Purge 31 days later (general group: 30 days): keys shredded, objects and cached copies
    # deleted, each batch in the destruction ledger and the tamper-evident ledger.
    later = AppContext(
        settings=ctx.settings,
        db=ctx.db,
        clock=FakeClock(ctx.clock.now() + timedelta(days=31)),
    )
    cycle = Retention(later).run_cycle()
    kept = segments[1:]
    assert cycle.expired.segments == len(kept)
    assert list(store.list(prefix)) == []
    assert list(files.cache.root.iterdir()) == []  # the cached copies went with the objects
    assert segments_of(ctx) == []
    with ctx.db.session() as session:
        records = session.exec(
            select(DestructionRecord).where(col(DestructionRecord.reason) == "retention")
        ).all()
    assert {r.method for r in records} == {Method.shred_unlink_object.value}
    assert sum(r.segment_count for r in records) == len(kept)
    entries = ctx.ledger.entries(events=[EventType.purge], limit=None)
    assert {e.data["destruction_id"] for e in entries} >= {r.id for r in records}
    assert ctx.ledger.verify().ok
