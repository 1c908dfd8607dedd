"""Automatic rotation (issue 12): the retention daemon rotates the vault key every
``vault.rotate_every_s``; a retired key is destroyed, its file overwritten and gone from the
key dir, once nothing sealed to it remains; recording and playback go on across a rotation."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from appliance.alarms import AlarmKind, open_alarms
from appliance.clock import FakeClock
from appliance.ledger import EventType
from appliance.media.playback import build_fmp4
from appliance.models import DestructionRecord, Segment
from appliance.retention.daemon import RetentionDaemon
from appliance.settings import Settings
from recorder.vaultkey import VaultPublicKey
from tests.support.footage import decode_mp4, make_clip, store_clip
from tests.support.retention import CtxFactory
from tests.support.segments import make_segments

DAY_S = 86_400


def _key_dir_bytes(key_dir: Path) -> bytes:
    """The raw bytes of every file under the key dir, concatenated."""
    return b"".join(p.read_bytes() for p in sorted(key_dir.rglob("*")) if p.is_file())


def test_rotation_every_period_and_retired_key_destroyed(
    make_ctx: CtxFactory, clock: FakeClock
) -> None:
    ctx = make_ctx(
        vault={"kdf_strength": "interactive", "rotate_every_s": DAY_S},
        retention={"batch_size": 50, "retired_key_grace_s": 3600},
    )
    key_dir = ctx.settings.storage.key_dir
    old = ctx.vault.current_key_id()
    old_file = key_dir / "vault" / f"{old}.key"
    old_bytes = old_file.read_bytes()
    (segment,) = make_segments(ctx, "cam01", [clock.now_ms()])
    daemon = RetentionDaemon(ctx, control=False)

    daemon.run_once()
    assert ctx.vault.current_key_id() == old  # not due yet
    clock.advance(DAY_S - 1)
    daemon.run_once()
    assert ctx.vault.current_key_id() == old

    clock.advance(1)
    daemon.run_once()
    new = ctx.vault.current_key_id()
    assert new != old
    (rotated,) = ctx.ledger.entries(events=[EventType.key_rotated])
    assert rotated.data["old_key_id"] == old and rotated.actor == "retention"
    assert old_file.exists()  # footage is still sealed to it

    # A day later the key rotates again, and the first key is still needed by the footage.
    clock.advance(DAY_S)
    daemon.run_once()
    newer = ctx.vault.current_key_id()
    assert newer not in (old, new) and old_file.exists()

    # The footage expires (general group: 30 days): the first key goes in the same cycle.
    clock.advance(timedelta(days=30))
    daemon.run_once()
    assert not old_file.exists()
    raw = _key_dir_bytes(key_dir)
    assert old_bytes not in raw
    record = json.loads(old_bytes)
    assert record["private_hex"].encode() not in raw
    assert bytes.fromhex(record["private_hex"]) not in raw
    with ctx.db.session() as session:
        row = session.get(Segment, segment.id)
        assert row is None or row.sealed_key is None
        destroyed = session.exec(
            select(DestructionRecord.vault_key_id).where(DestructionRecord.vault_key_id != "")
        ).all()
    assert old in destroyed and new in destroyed  # the second key had no footage at all
    events = ctx.ledger.entries(events=[EventType.key_destroyed])
    assert {e.data["key_id"] for e in events} >= {old, new}
    assert ctx.ledger.verify().ok


def test_a_pending_segment_keeps_its_key(make_ctx: CtxFactory, clock: FakeClock) -> None:
    """A segment the recorder has sealed but not yet indexed (``pending_segment``) needs the
    key for crash recovery as much as an indexed one does."""
    from appliance.models.media import PendingSegment

    ctx = make_ctx(vault={"kdf_strength": "interactive", "rotate_every_s": DAY_S})
    old = ctx.vault.current_key_id()
    key_id, sealed = ctx.vault.seal_segment_key(b"k" * 32)
    with ctx.db.session() as session:
        session.add(
            PendingSegment(
                path="cam01/pending.seg",
                camera_id="cam01",
                vault_key_id=key_id,
                sealed_key=sealed,
                created_ms=clock.now_ms(),
            )
        )
    daemon = RetentionDaemon(ctx, control=False)
    clock.advance(DAY_S)
    daemon.run_once()
    clock.advance(3600)
    daemon.run_once()
    assert ctx.vault.current_key_id() != old and ctx.vault.has_private_key(old)


def test_recording_and_playback_across_an_automatic_rotation(
    make_ctx: CtxFactory, clock: FakeClock, tmp_path: Path
) -> None:
    ctx = make_ctx(vault={"kdf_strength": "interactive", "rotate_every_s": DAY_S})
    recorder_key = VaultPublicKey(ctx.settings.storage.key_dir)  # one instance: no restart
    clip = make_clip(tmp_path / "clip.h264", "h264", 2)
    before_key = recorder_key.current()[0]
    before = store_clip(ctx, clip, camera_id="cam01", start_ms=clock.now_ms())
    clock.advance(DAY_S)
    RetentionDaemon(ctx, control=False).run_once()
    after_key = recorder_key.current()[0]
    assert after_key != before_key and after_key == ctx.vault.current_key_id()
    after = store_clip(ctx, clip, camera_id="cam01", start_ms=clock.now_ms())
    with ctx.db.session() as session:
        segments = list(session.exec(select(Segment)).all())
    assert {s.vault_key_id for s in segments} == {before_key, after_key}
    for recorded in (before, after):
        data = b"".join(
            build_fmp4(
                segments,
                recorded.start_ms,
                recorded.end_ms,
                ctx.vault,
                ctx.settings.segments_dir,
            )
        )
        assert len(decode_mp4(data)) == recorded.frames


def test_a_failing_rotation_raises_the_overdue_alarm(
    make_ctx: CtxFactory, clock: FakeClock
) -> None:
    ctx = make_ctx(vault={"kdf_strength": "interactive", "rotate_every_s": DAY_S})
    vault_dir = ctx.settings.storage.key_dir / "vault"
    daemon = RetentionDaemon(ctx, control=False)
    clock.advance(DAY_S)
    blocker = vault_dir / "current.tmp"
    blocker.mkdir()  # the new key cannot be made current (tests run as root: no chmod)
    try:
        daemon.run_once()
    finally:
        blocker.rmdir()
    with ctx.db.session() as session:
        kinds = [a.kind for a in open_alarms(session)]
    assert AlarmKind.key_rotation_overdue.value in kinds
    daemon.run_once()  # writable again: rotated, the alarm clears
    with ctx.db.session() as session:
        open_kinds = [a.kind for a in open_alarms(session)]
    assert AlarmKind.key_rotation_overdue.value not in open_kinds


@pytest.mark.parametrize("value", [0, 59, 3599])
def test_rotation_period_has_a_minimum(settings: Settings, value: int) -> None:
    from pydantic import ValidationError

    data = settings.model_dump()
    data["vault"] = {"rotate_every_s": value}
    with pytest.raises(ValidationError, match="rotate_every_s"):
        Settings(**data)
    data["vault"] = {"rotate_every_s": 3600}  # an hour is the shortest period
    assert Settings(**data).vault.rotate_every_s == 3600
    assert settings.vault.rotate_every_s == 86_400  # daily by default
