"""Recorder-node test helpers: a finished segment as a worker hands it to the indexer, lease
rows as the database holds them, ``appliance run --only recorder`` as a node process, and a
small real file system for the disk floor."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from appliance.context import AppContext
from appliance.media.format import Sample, SegmentHead, StreamInfo
from appliance.media.mp4 import init_from_keyframe
from appliance.models.nodes import CameraLease
from recorder.segments import FinishedSegment, OpenSegment
from recorder.vaultkey import VaultPublicKey
from tests.support.media import FRAME_TICKS, Clip

__all__ = ["finished_segment", "leases", "run_node", "small_filesystem"]


def finished_segment(
    ctx: AppContext, clip: Clip, camera_id: str, start_ms: int, epoch: int | None
) -> FinishedSegment:
    """A complete segment file under its temp name, recorded under lease ``epoch``."""
    key_id, public = VaultPublicKey(ctx.settings.storage.key_dir).current()
    init, width, height = init_from_keyframe("h264", clip[0][0])
    video = StreamInfo(0, "video", "h264", 1, 90_000, width, height, init=init)
    head = SegmentHead(camera_id, start_ms, start_ms, 0, (video,))
    segment = OpenSegment(
        ctx.settings.segments_dir, head, run_id=None, vault_key_id=key_id, public_key=public
    )
    for index, (data, is_key) in enumerate(clip):
        ts = index * FRAME_TICKS
        segment.writer.add(Sample(0, data, ts, ts, FRAME_TICKS, is_key, head.wall_ms(0, ts)))
        segment.frames += 1
        segment.key_frames += is_key
    finished = segment.finish(start_ms + len(clip) * 40)
    finished.lease_epoch = epoch
    return finished


def leases(ctx: AppContext) -> dict[str, tuple[str | None, int, int]]:
    """Camera -> (holder, epoch, expires_ms)."""
    with ctx.db.session() as session:
        rows = session.exec(select(CameraLease)).all()
        return {r.camera_id: (r.node_id, r.epoch, r.expires_ms) for r in rows}


def run_node(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """``appliance run --only recorder`` with ``config`` (its ``[node] id`` names the node)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from appliance.cli import app; app()",
             "run", "--only", "recorder", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


@contextlib.contextmanager
def small_filesystem(path: Path, size_mib: int) -> Iterator[Path]:
    """A real, small file system (tmpfs of ``size_mib``) mounted at ``path``: a disk that
    really fills. Needs root (CI and the dev container run as root); skips otherwise."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)
