"""Reading stored segments back: sealed keys, packet iteration, fragmented MP4 across segments."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import av
import pytest

from appliance.clock import FakeClock
from appliance.errors import FootageCorrupt, NotFound
from appliance.keys import create_vault_key, load_vault_public_key
from appliance.media import PrivateKeyFileOpener, build_fmp4, iter_packets, new_segment_key
from appliance.media._nal import annexb_to_length_prefixed, parameter_sets
from appliance.models.media import Segment
from tests.support.media import FPS, START_MS, Clip, write_segment


@pytest.fixture
def vault(tmp_path: Path, clock: FakeClock) -> tuple[Path, str, bytes]:
    key_dir = tmp_path / "keys"
    create_vault_key(key_dir, clock)
    key_id, public = load_vault_public_key(key_dir)
    return key_dir, key_id, public


def _store(
    segments_dir: Path, vault: tuple[Path, str, bytes], clip: Clip, index: int, codec: str = "h264"
) -> Segment:
    """One 4-second segment starting ``index * 4`` s after START_MS (contiguous timeline)."""
    _, key_id, public = vault
    key, sealed = new_segment_key(public)
    rel = f"cam01/{index}.seg"
    (segments_dir / "cam01").mkdir(parents=True, exist_ok=True)
    start = START_MS + index * 4000
    summary, size, digest, _ = write_segment(
        segments_dir / rel, key, clip, codec=codec, first_frame=index * len(clip), start_ms=start
    )
    return Segment(
        id=index + 1, camera_id="cam01", start_ms=start, end_ms=summary.end_ms, path=rel,
        size_bytes=size, digest=digest, vault_key_id=key_id, sealed_key=sealed,
        codec=codec, width=summary.width, height=summary.height, frames=summary.frames,
        key_frames=summary.key_frames, created_ms=start,
    )  # fmt: skip


def _decode(mp4: bytes) -> list[tuple[int, bool]]:
    with av.open(io.BytesIO(mp4), "r") as container:
        return [(f.width, f.key_frame) for f in container.decode(video=0)]


def _ffprobe_frames(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames,codec_name", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return int(json.loads(out)["streams"][0]["nb_read_frames"])


def test_iter_packets_opens_the_sealed_key(
    tmp_path: Path, vault: tuple[Path, str, bytes], h264_clip: Clip
) -> None:
    segment = _store(tmp_path, vault, h264_clip, 0)
    opener = PrivateKeyFileOpener(vault[0])
    samples = list(iter_packets(segment, opener, tmp_path))
    assert [(s.data, s.is_key) for s in samples] == h264_clip


def test_iter_packets_refuses_a_doctored_row_or_a_shredded_key(
    tmp_path: Path, vault: tuple[Path, str, bytes], h264_clip: Clip
) -> None:
    opener = PrivateKeyFileOpener(vault[0])
    segment = _store(tmp_path, vault, h264_clip, 0)
    segment.frames += 1
    with pytest.raises(FootageCorrupt, match="the row does not match the file"):
        list(iter_packets(segment, opener, tmp_path))
    segment.sealed_key = None
    with pytest.raises(NotFound, match=r"destroyed \(its key is shredded\)"):
        list(iter_packets(segment, opener, tmp_path))


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_fmp4_across_segments_plays(
    tmp_path: Path,
    vault: tuple[Path, str, bytes],
    h264_clip: Clip,
    hevc_clip: Clip,
    codec: str,
) -> None:
    clip = h264_clip if codec == "h264" else hevc_clip
    segments = [_store(tmp_path / "seg", vault, clip, i, codec) for i in range(3)]
    opener = PrivateKeyFileOpener(vault[0])
    # 2.5 s into the first segment to 1.5 s into the third: starts at the key frame at 2 s.
    parts = list(build_fmp4(segments, START_MS + 2500, START_MS + 9500, opener, tmp_path / "seg"))
    assert len(parts) > 2  # streamed fragment by fragment
    mp4 = b"".join(parts)
    frames = _decode(mp4)
    expected = -(-(9500 - 2000) * FPS // 1000)  # frames at 2.000, 2.040 ... 9.480 s
    assert len(frames) == expected
    assert frames[0] == (320, True)
    assert sum(1 for _, key in frames if key) == 8  # 2, 3, 4 ... 9 s
    out = tmp_path / "out.mp4"
    out.write_bytes(mp4)
    assert _ffprobe_frames(out) == expected


def test_fmp4_range_with_nothing_recorded(
    tmp_path: Path, vault: tuple[Path, str, bytes], h264_clip: Clip
) -> None:
    segments = [_store(tmp_path, vault, h264_clip, 0)]
    opener = PrivateKeyFileOpener(vault[0])
    with pytest.raises(NotFound, match="no recording in that range"):
        list(build_fmp4(segments, START_MS + 60_000, START_MS + 70_000, opener, tmp_path))


def test_fmp4_keeps_gaps_when_asked(
    tmp_path: Path, vault: tuple[Path, str, bytes], h264_clip: Clip
) -> None:
    first = _store(tmp_path, vault, h264_clip, 0)
    later = _store(tmp_path, vault, h264_clip, 3)  # 8 s of nothing in between
    opener = PrivateKeyFileOpener(vault[0])
    closed = b"".join(build_fmp4([first, later], START_MS, START_MS + 20_000, opener, tmp_path))
    kept = b"".join(
        build_fmp4([first, later], START_MS, START_MS + 20_000, opener, tmp_path, keep_gaps=True)
    )
    with av.open(io.BytesIO(closed), "r") as c, av.open(io.BytesIO(kept), "r") as k:
        closed_s = float(c.duration or 0) / av.time_base
        kept_s = float(k.duration or 0) / av.time_base
    assert closed_s == pytest.approx(8.0, abs=0.1)
    assert kept_s == pytest.approx(16.0, abs=0.1)


def test_nal_helpers(h264_clip: Clip) -> None:
    key_frame = h264_clip[0][0]
    params = parameter_sets("h264", key_frame)
    kinds = []
    pos = 0
    while pos < len(params):
        size = int.from_bytes(params[pos : pos + 4], "big")
        kinds.append(params[pos + 4] & 0x1F)
        pos += 4 + size
    assert kinds == [7, 8]
    assert parameter_sets("h264", h264_clip[1][0]) == b""
    # A payloader repeating the parameter sets in the same access unit is not a change.
    sps_pps = key_frame[: key_frame.find(b"\x00\x00\x01\x06")]  # up to the SEI
    assert parameter_sets("h264", sps_pps + key_frame) == params
    converted = annexb_to_length_prefixed(b"\x00\x00\x00\x01\x67ab\x00\x00\x01\x68c")
    assert converted == b"\x00\x00\x00\x03\x67ab\x00\x00\x00\x02\x68c"
    assert annexb_to_length_prefixed(b"no start code") == b"no start code"
