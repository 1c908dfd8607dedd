"""Back up a recording appliance, lose its data and key dirs, restore (design/backup.md).

Real parts: the GStreamer camera simulator over RTSP, the recorder, SQLite, argon2id
passphrases, the CLI. The segments live on their own "storage disk" (``storage.segments_dir``)
that survives; the data dir (database) and the key dir are wiped.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import av
import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from appliance.backup import set_backup_passphrase
from appliance.backup.daemon import BackupDaemon
from appliance.cli import app
from appliance.cli.main import initialize
from appliance.context import AppContext
from appliance.keys import load_verify_key
from appliance.ledger.heads import fingerprint_text
from appliance.media import build_fmp4
from appliance.models import DestructionRecord, Segment, VaultKey
from appliance.retention import Purger, Reason, camera_rules, destroy_retired_keys
from appliance.retention.destruction import Method
from appliance.settings import load_settings
from recorder.daemon import RecorderDaemon
from recorder.sim import CameraSimulator
from tests.support.config import to_toml
from tests.support.recorder import camera_entry, recorder_config, segments_of, sim_kwargs, wait_for

VAULT = "vault passphrase for the test"
BACKUP = "backup passphrase, kept off the box"
CAMERAS = ("cam01", "cam02")


def _sealed_to(ctx: AppContext, key_id: str) -> list[Segment]:
    return [s for s in segments_of(ctx) if s.vault_key_id == key_id and s.sealed_key]


def _purge(ctx: AppContext, segments: list[Segment]) -> None:
    with ctx.db.session() as session:
        rules, _ = camera_rules(session, ctx)
    result = Purger(ctx).purge(
        [s.id for s in segments if s.id is not None],
        reason=Reason.deletion_request,
        actor="test",
        rules=rules,
    )
    assert result.segments == len(segments)


def _frames(ctx: AppContext, segments: list[Segment]) -> int:
    mp4 = b"".join(
        build_fmp4(
            segments, segments[0].start_ms, segments[-1].end_ms, ctx.vault,
            ctx.settings.segments_dir,
        )
    )  # fmt: skip
    with av.open(io.BytesIO(mp4), "r") as container:
        return sum(1 for _ in container.decode(video=0))


def _per_camera(ctx: AppContext, key_id: str, count: int) -> bool:
    sealed = _sealed_to(ctx, key_id)
    return all(sum(s.camera_id == c for s in sealed) >= count for c in CAMERAS)


@pytest.mark.slow  # ~20 s: real recording across a rotation and a backup, argon2id, two restores
def test_backup_wipe_restore_plays_old_footage_and_resurrects_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    with CameraSimulator(2, **sim_kwargs()) as sim:
        data = recorder_config(
            tmp_path, [camera_entry(c, sim.url(f"cam{i}")) for i, c in enumerate(CAMERAS, 1)]
        )
        data["storage"]["segments_dir"] = str(tmp_path / "disk" / "segments")
        data["vault"] = {"kdf_strength": "interactive"}
        config = tmp_path / "appliance.toml"
        config.write_text(to_toml(data), encoding="utf-8")
        settings = load_settings(config)
        initialize(settings, passphrase=VAULT)
        set_backup_passphrase(settings.storage.key_dir, BACKUP, "interactive", 0)
        pin = fingerprint_text(load_verify_key(settings.storage.key_dir))
        ctx = AppContext.open(settings)
        ctx.vault_keeper.unlock(VAULT, "test")
        k1 = ctx.vault.current_key_id()
        recorder = RecorderDaemon(ctx)
        backups = BackupDaemon(ctx, check_every_s=3600)  # backup.dir unset: no scheduled round
        recorder.start()
        backups.start()
        try:
            wait_for(lambda: _per_camera(ctx, k1, 2), 60, "two segments per camera on k1")
            # Purged before the backup: its key must not be in the archive at all.
            gone_before = _sealed_to(ctx, k1)[0]
            gone_before_key = gone_before.sealed_key
            assert gone_before_key is not None
            _purge(ctx, [gone_before])
            k2 = ctx.vault_keeper.rotate("test")
            wait_for(lambda: _per_camera(ctx, k2, 2), 60, "two segments per camera on k2")
            # The recorder goes on during the backup: the archive holds at least ``before``
            # and at most ``after``.
            # `appliance backup` asks the running appliance (it holds the signing key since the
            # unlock) over its backup socket: no passphrase in the command.
            before = {s.path for s in segments_of(ctx)}
            asked = runner.invoke(
                app, ["backup", "--config", str(config), "--out", str(tmp_path / "backups")]
            )
            after = {s.path for s in segments_of(ctx)}
            assert asked.exit_code == 0, asked.output
            assert "the running appliance wrote" in asked.output
            wait_for(
                lambda: len({s.path for s in segments_of(ctx)} - after) >= 2,
                60,
                "footage recorded after the backup",
            )
        finally:
            backups.stop()
            recorder.stop()
        assert backups.last is not None
        result = backups.last
        # After the backup: every k1 segment is deleted, so k1 is destroyed; one k2 segment
        # recorded before the backup is deleted too. Neither may come back.
        k1_paths = {s.path for s in _sealed_to(ctx, k1)} | {gone_before.path}
        _purge(ctx, _sealed_to(ctx, k1))
        deleted_after = next(s for s in _sealed_to(ctx, k2) if s.path in before)
        _purge(ctx, [deleted_after])
        grace0 = settings.model_copy(
            update={"retention": settings.retention.model_copy(update={"retired_key_grace_s": 0})}
        )
        no_grace = AppContext(settings=grace0, db=ctx.db, clock=ctx.clock)
        assert k1 in destroy_retired_keys(no_grace, "test")
        ctx.close()

    # The disaster: the data dir (database), the key dir and the configuration are lost; the
    # segments disk is not.
    shutil.rmtree(settings.storage.data_dir)
    shutil.rmtree(settings.storage.key_dir)
    original_config = config.read_bytes()
    config.unlink()
    archive = result.path

    # A wrong passphrase and a tampered archive are refused before anything is written.
    wrong = runner.invoke(
        app, ["restore", str(archive), "--config", str(config), "--stdin"],
        input=f"not the passphrase\n{VAULT}\n",
    )  # fmt: skip
    assert wrong.exit_code == 2 and "passphrase" in wrong.output
    tampered = tmp_path / "tampered.cctvbak"
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    tampered.write_bytes(bytes(raw))
    refused = runner.invoke(
        app, ["restore", str(tampered), "--config", str(config), "--stdin"],
        input=f"{BACKUP}\n{VAULT}\n",
    )  # fmt: skip
    assert refused.exit_code == 2 and "signature" in refused.output
    assert runner.invoke(app, ["backup-verify", str(tampered)]).exit_code == 1
    other_pin = ["backup-verify", str(archive), "--key-fingerprint", "00" * 32]
    assert runner.invoke(app, other_pin).exit_code == 1
    assert not settings.storage.key_dir.exists() and not settings.storage.data_dir.exists()
    assert not config.exists()

    checked = runner.invoke(app, ["backup-verify", str(archive), "--key-fingerprint", pin])
    assert checked.exit_code == 0, checked.output
    restored = runner.invoke(
        app, ["restore", str(archive), "--config", str(config), "--stdin",
              "--key-fingerprint", pin],
        input=f"{BACKUP}\n{VAULT}\n",
    )  # fmt: skip
    assert restored.exit_code == 0, restored.output
    assert config.read_bytes() == original_config  # written back from the archive
    assert "footage that can be opened" in restored.output
    verified = runner.invoke(
        app, ["ledger", "verify", "--config", str(config), "--key-fingerprint", pin]
    )
    assert verified.exit_code == 0, verified.output

    ctx = AppContext.open(settings)
    try:
        ctx.vault_keeper.unlock(VAULT, "test")
        rows = segments_of(ctx)
        paths = {s.path for s in rows}
        # Footage recorded before the backup and still on the disk plays, every frame.
        lost = k1_paths | {deleted_after.path}
        assert before - lost <= paths <= after - lost
        for camera_id in CAMERAS:
            mine = [s for s in rows if s.camera_id == camera_id]
            assert mine and all(s.vault_key_id == k2 for s in mine)
            assert _frames(ctx, mine) == sum(s.frames for s in mine)
        # Nothing destroyed comes back: not the segment purged before the backup, not the one
        # deleted after it, not k1, not the footage recorded after the backup (no key exists).
        assert gone_before.path not in paths and deleted_after.path not in paths
        assert not (settings.segments_dir / gone_before.path).exists()
        assert not ctx.vault.has_private_key(k1)
        assert not (settings.storage.key_dir / "vault" / f"{k1}.key").exists()
        on_disk = {p.relative_to(settings.segments_dir).as_posix()
                   for p in settings.segments_dir.rglob("*.seg")}  # fmt: skip
        assert on_disk == paths  # recorded after the backup: unreadable, removed
        db_bytes = (settings.storage.data_dir / "appliance.db").read_bytes()
        assert gone_before_key not in db_bytes
        with ctx.db.session() as session:
            k1_row = session.get(VaultKey, k1)
            assert k1_row is not None and k1_row.destroyed_ms is not None
            missing = session.exec(
                select(DestructionRecord).where(
                    col(DestructionRecord.reason) == Reason.file_missing.value
                )
            ).all()
            # Deleted after the backup: found missing on the disk, destroyed again, recorded.
            assert sum(r.segment_count or 0 for r in missing) >= 1 + len(k1_paths & before) - 1
            keys = session.exec(
                select(DestructionRecord).where(
                    col(DestructionRecord.method) == Method.key_destroyed.value
                )
            ).all()
            assert k1 in {r.vault_key_id for r in keys}
        assert ctx.vault.current_key_id() not in (k1, k2)  # rotated at the restore
    finally:
        ctx.close()
