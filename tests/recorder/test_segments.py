"""Durability order and start-up reconcile (invariant 3), with real files and database."""

from __future__ import annotations

import hashlib
import os

from sqlmodel import select

from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.media import PrivateKeyFileOpener, iter_packets
from appliance.media.format import Sample, SegmentHead, StreamInfo
from appliance.media.mp4 import init_from_keyframe
from appliance.models.media import PendingSegment, Segment
from recorder.daemon import RecorderDaemon
from recorder.indexer import SegmentIndexer
from recorder.reconcile import reconcile
from recorder.segments import FinishedSegment, OpenSegment
from recorder.vaultkey import VaultPublicKey
from tests.support.media import FRAME_TICKS, START_MS, Clip


def _finished(ctx: AppContext, clip: Clip, start_ms: int = START_MS) -> FinishedSegment:
    """A complete segment file under its temp name, as a worker hands it to the indexer."""
    key_id, public = VaultPublicKey(ctx.settings.storage.key_dir).current()
    init, width, height = init_from_keyframe("h264", clip[0][0])
    video = StreamInfo(0, "video", "h264", 1, 90_000, width, height, init=init)
    head = SegmentHead("cam01", start_ms, start_ms, 0, (video,))
    segment = OpenSegment(
        ctx.settings.segments_dir, head, run_id=None, vault_key_id=key_id, public_key=public
    )
    for index, (data, is_key) in enumerate(clip):
        ts = index * FRAME_TICKS
        segment.writer.add(Sample(0, data, ts, ts, FRAME_TICKS, is_key, head.wall_ms(0, ts)))
        segment.frames += 1
        segment.key_frames += is_key
    return segment.finish(start_ms + len(clip) * 40)


def _indexer(ctx: AppContext) -> SegmentIndexer:
    return SegmentIndexer(ctx.db, ctx.clock, on_indexed=RecorderDaemon(ctx)._on_indexed)


def _rows(ctx: AppContext) -> list[Segment]:
    with ctx.db.session() as session:
        return list(session.exec(select(Segment)).all())


def test_indexed_segment_is_durable_readable_and_in_the_ledger(
    ctx: AppContext, h264_clip: Clip
) -> None:
    job = _finished(ctx, h264_clip)
    assert job.temp_path.exists() and not job.final_path.exists()
    segment = _indexer(ctx).index(job)
    assert not job.temp_path.exists()
    raw = job.final_path.read_bytes()
    assert segment.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert (segment.frames, segment.key_frames, segment.size_bytes) == (100, 4, len(raw))
    opener = PrivateKeyFileOpener(ctx.settings.storage.key_dir)
    samples = list(iter_packets(_rows(ctx)[0], opener, ctx.settings.segments_dir))
    assert [(s.data, s.is_key) for s in samples] == h264_clip
    with ctx.db.session() as session:
        assert session.exec(select(PendingSegment)).all() == []
    entries = ctx.ledger.entries(events=[EventType.segment_created])
    assert len(entries) == 1
    assert entries[0].data["digest"] == segment.digest
    assert segment.id is not None and entries[0].ref == str(segment.id)
    assert entries[0].data["segment_id"] == segment.id


def test_reconcile_after_a_crash_at_each_step(ctx: AppContext, h264_clip: Clip) -> None:
    segments_dir = ctx.settings.segments_dir
    # 1. killed while writing: only a temp file.
    writing = _finished(ctx, h264_clip, START_MS)
    os.close(writing.fd)
    # 2. killed after the rename, before the row: file + pending row.
    renamed = _finished(ctx, h264_clip, START_MS + 10_000)
    with ctx.db.session() as session:
        session.add(
            PendingSegment(
                path=renamed.relpath,
                camera_id="cam01",
                vault_key_id=renamed.vault_key_id,
                sealed_key=renamed.sealed_key,
                created_ms=0,
            )
        )
    os.fsync(renamed.fd)
    os.close(renamed.fd)
    renamed.temp_path.rename(renamed.final_path)
    # 3. a file nobody has the key of (no pending row): unreadable forever, so deleted.
    orphan = _finished(ctx, h264_clip, START_MS + 20_000)
    os.close(orphan.fd)
    orphan.temp_path.rename(orphan.final_path)
    # 4. a pending row for a file cut short, and 5. an indexed segment whose file went away.
    cut = _finished(ctx, h264_clip, START_MS + 30_000)
    os.close(cut.fd)
    cut.temp_path.rename(cut.final_path)
    with cut.final_path.open("r+b") as handle:
        handle.truncate(cut.size_bytes // 2)
    with ctx.db.session() as session:
        session.add(
            PendingSegment(
                path=cut.relpath, camera_id="cam01", vault_key_id=cut.vault_key_id,
                sealed_key=cut.sealed_key, created_ms=0,
            )
        )  # fmt: skip
    gone = _indexer(ctx).index(_finished(ctx, h264_clip, START_MS + 40_000))
    (segments_dir / gone.path).unlink()

    report = reconcile(ctx.db, segments_dir, ctx.clock, on_indexed=RecorderDaemon(ctx)._on_indexed)

    assert report.temp_deleted == [writing.temp_path.relative_to(segments_dir).as_posix()]
    assert report.reindexed == [renamed.relpath]
    assert sorted(report.orphans_deleted) == sorted([orphan.relpath, cut.relpath])
    assert report.pending_dropped == [cut.relpath]
    assert report.missing_files == [gone.path]
    assert not writing.temp_path.exists()
    assert not orphan.final_path.exists() and not cut.final_path.exists()
    # The re-indexed segment is complete, hashed and readable, and in the ledger.
    row = next(r for r in _rows(ctx) if r.path == renamed.relpath)
    assert row.digest == renamed.digest and row.frames == 100
    opener = PrivateKeyFileOpener(ctx.settings.storage.key_dir)
    assert len(list(iter_packets(row, opener, segments_dir))) == 100
    refs = {e.ref for e in ctx.ledger.entries(events=[EventType.segment_created])}
    assert str(row.id) in refs
    # A reconcile limited to other cameras (another recorder node's) touches nothing here.
    stray = _finished(ctx, h264_clip, START_MS + 50_000)
    os.close(stray.fd)
    assert reconcile(ctx.db, segments_dir, ctx.clock, cameras=["cam02"]).clean
    assert stray.temp_path.exists()
    stray.temp_path.unlink()
    # A second run finds nothing left to do but the missing file.
    again = reconcile(ctx.db, segments_dir, ctx.clock)
    assert again.missing_files == [gone.path] and not again.reindexed and not again.orphans_deleted


def test_segment_files_and_dirs_are_private(ctx: AppContext, h264_clip: Clip) -> None:
    segment = _indexer(ctx).index(_finished(ctx, h264_clip))
    path = ctx.settings.segments_dir / segment.path
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.relative_to(ctx.settings.segments_dir).parts[:4] == ("cam01", "2026", "03", "01")
