"""fsck finds a flipped byte, a missing file, an orphan and a temp file, and repairs what can
be repaired (SQLite and PostgreSQL)."""

from __future__ import annotations

import os

from sqlmodel import select

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import DestructionRecord, Segment
from appliance.retention import AlarmKind, ProblemKind, Reason, fsck, open_alarms
from appliance.retention.fsck import walk_sorted
from tests.support.segments import MINUTE_MS, make_segments


def test_fsck_finds_and_repairs(any_ctx: AppContext, clock: FakeClock) -> None:
    ctx = any_ctx
    root = ctx.settings.segments_dir
    t0 = clock.now_ms()
    made = make_segments(ctx, "cam01", [t0 + i * MINUTE_MS for i in range(6)])
    make_segments(ctx, "cam02", [t0 + i * MINUTE_MS for i in range(3)])
    assert fsck(ctx).clean

    flipped = root / made[1].path
    data = bytearray(flipped.read_bytes())
    data[100] ^= 0x01
    flipped.write_bytes(bytes(data))
    (root / made[3].path).unlink()
    orphan = root / "cam01" / "2026" / "03" / "01" / "1772323200000-deadbeef.seg"
    orphan.write_bytes(os.urandom(64))
    temp = root / made[4].path
    temp = temp.with_name(f".{temp.name}.tmp")
    temp.write_bytes(b"partial")

    report = fsck(ctx)
    found = {(p.kind, p.path) for p in report.problems}
    assert found == {
        (ProblemKind.hash_mismatch, made[1].path),
        (ProblemKind.missing_file, made[3].path),
        (ProblemKind.orphan_file, orphan.relative_to(root).as_posix()),
        (ProblemKind.temp_file, temp.relative_to(root).as_posix()),
    }
    assert report.rows == 9 and report.files == 10
    with ctx.db.session() as session:
        assert AlarmKind.integrity.value in {a.kind for a in open_alarms(session)}

    repaired = fsck(ctx, repair=True)
    assert repaired.repaired == 3
    assert not orphan.exists() and not temp.exists()
    with ctx.db.session() as session:
        ids = {s.id for s in session.exec(select(Segment)).all()}
        (record,) = session.exec(select(DestructionRecord)).all()
    assert made[3].id not in ids and made[1].id in ids  # damage is reported, never "fixed"
    assert record.reason == Reason.file_missing.value and record.segment_count == 1
    assert [
        e.event for e in ctx.ledger.entries(events=[EventType.purge, EventType.fsck_repair])
    ] == [
        "purge",
        "fsck_repair",
    ]

    after = fsck(ctx)
    assert [(p.kind, p.path) for p in after.problems] == [(ProblemKind.hash_mismatch, made[1].path)]


def test_walk_order_matches_binary_path_order(tmp_path: os.PathLike[str]) -> None:
    from pathlib import Path

    root = Path(tmp_path)
    names = ["a/b", "a-b", "a/c/d", "a.x", "b", "a/b-c", "A", "a0"]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    assert list(walk_sorted(root)) == sorted(names)
