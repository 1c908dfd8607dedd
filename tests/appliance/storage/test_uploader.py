"""The uploader, the purge and fsck against a real Swift, on SQLite and PostgreSQL: retries
while the store is away, a segment purged mid-upload, a purge while the store is away."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from appliance.alarms import AlarmKind, open_alarms
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.models import PurgeJob, Segment
from appliance.retention import Retention
from appliance.retention.fsck import fsck
from appliance.storage import (
    S3Credentials,
    S3Store,
    SegmentFiles,
    Uploader,
    drop_uploaded_copies,
    open_segment_files,
)
from tests.support.retention import CtxFactory
from tests.support.segments import DAY_MS, MINUTE_MS, make_segments
from tests.support.swift import SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY, SwiftServer, new_store

pytestmark = pytest.mark.swift


def _dead() -> S3Store:
    return S3Store("http://127.0.0.1:9", "gone", S3Credentials("a", "b"), timeout_s=0.5)


def _alarms(ctx: AppContext) -> set[str]:
    with ctx.db.session() as session:
        return {a.kind for a in open_alarms(session)}


def test_upload_retry_purge_race_store_away_and_fsck(
    make_ctx: CtxFactory,
    swift_server: SwiftServer,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = new_store(swift_server)
    monkeypatch.setenv("APPLIANCE_S3_ACCESS_KEY_ID", SWIFT_ACCESS_KEY)
    monkeypatch.setenv("APPLIANCE_S3_SECRET_ACCESS_KEY", SWIFT_SECRET_KEY)
    ctx = make_ctx(
        storage={
            "backend": "s3",
            "object_endpoint": swift_server.endpoint,
            "object_bucket": store.bucket,
            "cache_max_bytes": 0,
        }
    )
    now = clock.now_ms()
    made = make_segments(
        ctx, "cam01", [now - 40 * DAY_MS + i * MINUTE_MS for i in range(5)], size_bytes=4096
    )
    made += make_segments(ctx, "cam02", [now - 10 * MINUTE_MS], size_bytes=4096)
    prefix = ctx.settings.storage.object_prefix

    # The store is away: nothing moves, every file stays local, the alarm after three passes.
    away = Uploader(ctx.db, open_segment_files(ctx.settings, store=_dead()), ctx.clock)
    for _ in range(3):
        assert away.run_once().failed >= 1
        clock.advance(120_000)  # past every backoff
    assert AlarmKind.upload_failing in _alarms(ctx)
    with ctx.db.session() as session:
        assert all(s.location == "local" for s in session.exec(select(Segment)).all())

    # One segment's key is shredded before its upload (the purge got there first): its object
    # must not outlive it.
    with ctx.db.session() as session:
        session.execute(
            update(Segment).where(col(Segment.path) == made[0].path).values(sealed_key=None)
        )
    back = Uploader(ctx.db, ctx.segment_files, ctx.clock)
    result = back.run_once()
    assert (result.uploaded, result.failed) == (len(made) - 1, 0)
    assert AlarmKind.upload_failing not in _alarms(ctx)
    keys = [o.key for o in store.list(prefix)]
    assert keys == sorted(prefix + m.path for m in made[1:])
    with ctx.db.session() as session:
        session.execute(update(Segment).where(col(Segment.path) == made[0].path).values(
            sealed_key=b"x" * 80
        ))  # fmt: skip

    # Disk pressure on this node: the oldest uploaded local copies go first, footage stays.
    assert drop_uploaded_copies(ctx.db, ctx.segment_files, 5000) == (2, 8192)
    with ctx.db.session() as session:
        located = {s.path: s.location for s in session.exec(select(Segment)).all()}
    assert [located[m.path] for m in made] == ["local", "object", "object", "both", "both", "both"]
    assert not (ctx.settings.segments_dir / made[1].path).exists()

    # fsck merges objects and rows in byte order (PostgreSQL: COLLATE "C").
    report = fsck(ctx, verify_hash=False)
    assert report.clean and report.objects == len(made) - 1, report.problems

    # The purge runs while the store is away: the keys are destroyed at once, the batch stays
    # journaled with its rows; the next cycle with the store back deletes the objects.
    ctx.segment_files = open_segment_files(ctx.settings, store=_dead())
    first = Retention(ctx).run_cycle()
    assert first.expired.segments == 5  # cam01's 40-day-old minutes
    with ctx.db.session() as session:
        assert len(session.exec(select(PurgeJob)).all()) == 1
        shredded = session.exec(select(Segment).where(col(Segment.sealed_key).is_(None))).all()
        assert len(shredded) == 5
    assert len(list(store.list(prefix + "cam01/"))) == 4  # not deleted yet
    ctx.segment_files = SegmentFiles(ctx.settings.segments_dir, store, prefix=prefix)
    second = Retention(ctx).run_cycle()
    assert second.recovered_batches == 1
    assert list(store.list(prefix + "cam01/")) == []
    assert [o.key for o in store.list(prefix)] == [prefix + made[-1].path]
    with ctx.db.session() as session:
        assert session.exec(select(PurgeJob)).all() == []
        assert [s.camera_id for s in session.exec(select(Segment)).all()] == ["cam02"]
