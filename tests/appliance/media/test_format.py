"""The segment file: round trip, tamper and truncation detection, key-less structure check."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from nacl.bindings import crypto_secretstream_xchacha20poly1305_keygen

from appliance.errors import IntegrityError, MediaError
from appliance.media import SegmentReader, inspect_segment_file
from appliance.media.format import DATA_OFFSET
from tests.appliance.media.conftest import Clip, write_segment


@pytest.fixture
def key() -> bytes:
    return crypto_secretstream_xchacha20poly1305_keygen()


def test_round_trip_keeps_every_sample(tmp_path: Path, key: bytes, h264_clip: Clip) -> None:
    path = tmp_path / "s.seg"
    summary, size, digest, written = write_segment(path, key, h264_clip)
    raw = path.read_bytes()
    assert size == len(raw)
    assert digest == hashlib.blake2b(raw, digest_size=32).hexdigest()
    with SegmentReader(path, key, expected_blake2b_hex=digest) as reader:
        assert reader.head.video.codec == "h264"
        assert (reader.head.video.width, reader.head.video.height) == (320, 240)
        assert reader.head.video.init[4:8] == b"ftyp"
        read = list(reader)
        assert reader.summary == summary
    assert read == written
    start = summary.start_ms
    assert [s.wall_ms for s in read[:3]] == [start, start + 40, start + 80]
    assert summary.key_frames == 4 and summary.frames == 100


def test_inspect_needs_no_key_and_sees_complete_files(
    tmp_path: Path, key: bytes, h264_clip: Clip
) -> None:
    path = tmp_path / "s.seg"
    summary, *_ = write_segment(path, key, h264_clip)
    assert inspect_segment_file(path) == summary


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_truncated_file_is_detected(
    tmp_path: Path, key: bytes, h264_clip: Clip, fraction: float
) -> None:
    path = tmp_path / "s.seg"
    write_segment(path, key, h264_clip)
    raw = path.read_bytes()
    cut = DATA_OFFSET + int((len(raw) - DATA_OFFSET) * fraction)
    path.write_bytes(raw[:cut])
    assert inspect_segment_file(path) is None
    with pytest.raises(IntegrityError), SegmentReader(path, key) as reader:
        list(reader)


def test_dropping_the_last_message_is_detected(tmp_path: Path, key: bytes, h264_clip: Clip) -> None:
    """A file cut exactly at a message boundary (and given a fake end) still fails: no TAG_FINAL."""
    path = tmp_path / "s.seg"
    write_segment(path, key, h264_clip)
    raw = path.read_bytes()
    # Walk to the last message (the trailer) and cut just before it, then append a zero marker.
    pos, last = DATA_OFFSET, DATA_OFFSET
    while True:
        length = int.from_bytes(raw[pos : pos + 4], "little")
        if length == 0:
            break
        last, pos = pos, pos + 4 + length
    path.write_bytes(raw[:last] + raw[pos:])
    with pytest.raises(IntegrityError, match="truncated"), SegmentReader(path, key) as reader:
        list(reader)


@pytest.mark.parametrize("where", [DATA_OFFSET - 1, DATA_OFFSET + 10, 5000, -40])
def test_any_flipped_bit_is_detected(
    tmp_path: Path, key: bytes, h264_clip: Clip, where: int
) -> None:
    path = tmp_path / "s.seg"
    _, _, digest, _ = write_segment(path, key, h264_clip)
    raw = bytearray(path.read_bytes())
    raw[where] ^= 0x04
    path.write_bytes(bytes(raw))
    with (
        pytest.raises(IntegrityError),
        SegmentReader(path, key, expected_blake2b_hex=digest) as reader,
    ):
        list(reader)


def test_wrong_key_and_wrong_version(tmp_path: Path, key: bytes, h264_clip: Clip) -> None:
    path = tmp_path / "s.seg"
    write_segment(path, key, h264_clip)
    with pytest.raises(IntegrityError):
        SegmentReader(path, crypto_secretstream_xchacha20poly1305_keygen())
    raw = bytearray(path.read_bytes())
    raw[8] = 2
    path.write_bytes(bytes(raw))
    with pytest.raises(MediaError):
        SegmentReader(path, key)


def test_file_holds_no_plaintext(tmp_path: Path, key: bytes, h264_clip: Clip) -> None:
    path = tmp_path / "s.seg"
    write_segment(path, key, h264_clip)
    raw = path.read_bytes()
    for box in (b"ftyp", b"moov", b"mdat", b"avcC"):
        assert box not in raw
    assert b"\x00\x00\x00\x01\x67" not in raw  # SPS behind a start code
    assert h264_clip[5][0][-64:] not in raw
    assert os.stat(path).st_mode & 0o777 == 0o600
