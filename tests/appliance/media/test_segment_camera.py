"""Playback refuses a segment row that points at another camera's file (issue 13, finding 8).

Someone with write access to the database could relabel a row, or swap the file identity of
two rows (path, sealed key, digest), so that a viewer granted one camera sees another's footage.
The file's authenticated head names its camera: playback compares it with the row's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.clock import FakeClock
from appliance.errors import FootageCorrupt
from appliance.keys import create_vault_key, load_vault_public_key
from appliance.media import PrivateKeyFileOpener, build_fmp4, iter_packets, new_segment_key
from appliance.models.media import Segment
from tests.support.media import START_MS, Clip, write_segment


def _store(root: Path, key_dir: Path, clip: Clip, camera_id: str, row_id: int) -> Segment:
    key_id, public = load_vault_public_key(key_dir)
    key, sealed = new_segment_key(public)
    rel = f"{camera_id}/0.seg"
    (root / camera_id).mkdir(parents=True, exist_ok=True)
    summary, size, digest, _ = write_segment(root / rel, key, clip, camera_id=camera_id)
    return Segment(
        id=row_id, camera_id=camera_id, start_ms=START_MS, end_ms=summary.end_ms, path=rel,
        size_bytes=size, digest=digest, vault_key_id=key_id, sealed_key=sealed, codec="h264",
        width=summary.width, height=summary.height, frames=summary.frames,
        key_frames=summary.key_frames, created_ms=START_MS,
    )  # fmt: skip


def _swap_files(a: Segment, b: Segment) -> None:
    """Exchange what locates and opens the file (path, key, digest) between two rows."""
    for name in ("path", "sealed_key", "vault_key_id", "digest", "size_bytes"):
        first, second = getattr(a, name), getattr(b, name)
        setattr(a, name, second)
        setattr(b, name, first)


@pytest.fixture
def two_cameras(tmp_path: Path, clock: FakeClock, h264_clip: Clip) -> tuple[Path, Segment, Segment]:
    key_dir = tmp_path / "keys"
    create_vault_key(key_dir, clock)
    root = tmp_path / "segments"
    cam01 = _store(root, key_dir, h264_clip, "cam01", 1)
    cam02 = _store(root, key_dir, h264_clip, "cam02", 2)
    return key_dir, cam01, cam02


def test_rows_with_swapped_files_are_refused(two_cameras: tuple[Path, Segment, Segment]) -> None:
    key_dir, cam01, cam02 = two_cameras
    root = key_dir.parent / "segments"
    opener = PrivateKeyFileOpener(key_dir)
    # Untouched rows play.
    assert b"".join(build_fmp4([cam01], START_MS, cam01.end_ms, opener, root))
    _swap_files(cam01, cam02)
    for row in (cam01, cam02):
        with pytest.raises(FootageCorrupt, match="camera"):
            b"".join(build_fmp4([row], START_MS, row.end_ms, opener, root))
        with pytest.raises(FootageCorrupt, match="camera"):
            list(iter_packets(row, opener, root))


def test_a_relabelled_row_is_refused(two_cameras: tuple[Path, Segment, Segment]) -> None:
    key_dir, _, cam02 = two_cameras
    root = key_dir.parent / "segments"
    cam02.camera_id = "cam01"  # the file still says cam02
    with pytest.raises(FootageCorrupt, match="cam02"):
        b"".join(build_fmp4([cam02], START_MS, cam02.end_ms, PrivateKeyFileOpener(key_dir), root))
