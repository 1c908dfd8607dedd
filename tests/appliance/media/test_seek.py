"""``SegmentReader.seek``: start decrypting at the wanted key frame (format 3's INDEX message).

Checked on both ciphers: the samples from the jump are exactly a full read's from the enclosing
key frame on, nothing before the key frame's message is read, a doctored locator, INDEX or
message is refused, and format 2 files (no INDEX) are read from the start.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

from appliance.errors import FootageCorrupt
from appliance.media import SegmentReader
from appliance.media.format import (
    CIPHER_AES256GCM,
    CIPHER_XCHACHA20POLY1305,
    ByteStream,
    Sample,
    SegmentWriter,
)
from appliance.media.playback import FileSource
from tests.support.media import START_MS, Clip, write_segment

CIPHERS = {"aes256gcm": CIPHER_AES256GCM, "xchacha20poly1305": CIPHER_XCHACHA20POLY1305}


class Counting(FileSource):
    """A ``FileSource`` that records every byte range it hands out."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads: list[tuple[int, int]] = []

    def read_at(self, start: int, end: int) -> bytes:
        self.reads.append((start, min(end, self.size)))
        return super().read_at(start, end)

    def stream_from(self, start: int, upto: int | None = None) -> ByteStream:
        self.reads.append((start, self.size))
        return super().stream_from(start, upto)


def _full(path: Path, key: bytes) -> list[Sample]:
    with SegmentReader(path, key) as reader:
        return list(reader)


def _seek(path: Path, key: bytes, at_ms: int) -> tuple[list[Sample], Counting]:
    source = Counting(path)
    with SegmentReader.seek(source, key, at_ms) as reader:
        return list(reader), source


@pytest.mark.parametrize("cipher", CIPHERS)
def test_seek_starts_at_the_enclosing_key_frame_and_reads_nothing_before_it(
    tmp_path: Path, h264_clip: Clip, cipher: str
) -> None:
    path = tmp_path / "s.seg"
    key = os.urandom(32)
    write_segment(path, key, h264_clip, cipher=CIPHERS[cipher])
    everything = _full(path, key)
    keys = [s.wall_ms for s in everything if s.is_key]
    assert len(keys) >= 3  # one key frame a second in the test clip
    for at_ms in (START_MS + 1, keys[1], keys[1] + 500, keys[-1] + 900):
        enclosing = max(k for k in keys if k <= at_ms)
        samples, source = _seek(path, key, at_ms)
        first = next(i for i, s in enumerate(everything) if s.wall_ms == enclosing and s.is_key)
        # The jump lands on the key frame's message: a few samples of the group before it
        # may precede the key frame (same message), never more than that message holds.
        skipped = everything[: len(everything) - len(samples)]
        assert everything[len(skipped) :] == samples
        assert len(skipped) <= first and first - len(skipped) < 16
        # Only the tail (footer, INDEX) and the stream from the jump were read.
        (tail_at, _), (jump_at, _) = source.reads
        assert tail_at > path.stat().st_size - 20_000
        if enclosing > keys[0]:
            assert jump_at > 1000 and len(skipped) > 0
    # A time before the first key frame's message reads from the start, hash included.
    samples, source = _seek(path, key, START_MS - 10)
    assert samples == everything


def test_seek_refuses_a_doctored_locator_index_or_message(tmp_path: Path, h264_clip: Clip) -> None:
    path = tmp_path / "s.seg"
    key = os.urandom(32)
    write_segment(path, key, h264_clip)
    raw = path.read_bytes()
    footer_len = int.from_bytes(raw[-12:-8], "little")
    footer = json.loads(raw[-12 - footer_len : -12])
    index_at = footer["index_at"]
    at_ms = START_MS + 2500

    def doctored(data: bytes) -> Path:
        bad = tmp_path / "bad.seg"
        bad.write_bytes(data)
        return bad

    # The clear locator moved (same length): the message there does not open as the INDEX.
    moved = json.dumps({**footer, "index_no": footer["index_no"] - 1}, sort_keys=True).encode()
    moved = moved.replace(b": ", b":").replace(b", ", b",")
    assert len(moved) == footer_len
    with pytest.raises(FootageCorrupt, match="altered index or wrong key"):
        _seek(doctored(raw[: -12 - footer_len] + moved + raw[-12:]), key, at_ms)
    # A bit of the INDEX flipped.
    flipped = bytearray(raw)
    flipped[index_at + 20] ^= 1
    with pytest.raises(FootageCorrupt, match="altered index or wrong key"):
        _seek(doctored(bytes(flipped)), key, at_ms)
    # A bit of the message jumped to flipped: refused when it is read.
    _, source = _seek(path, key, at_ms)
    jump_at = source.reads[1][0]
    flipped = bytearray(raw)
    flipped[jump_at + 100] ^= 1
    with pytest.raises(FootageCorrupt, match="altered or wrong key"):
        _seek(doctored(bytes(flipped)), key, at_ms)
    # Another segment's key opens nothing.
    with pytest.raises(FootageCorrupt, match="altered index or wrong key"):
        _seek(path, os.urandom(32), at_ms)


def test_format_2_files_are_read_from_the_start(tmp_path: Path, h264_clip: Clip) -> None:
    """Footage recorded before format 3 has no INDEX: a seek reads it whole, hash checked."""
    path = tmp_path / "v2.seg"
    key = os.urandom(32)
    writer = functools.partial(SegmentWriter, version=2)
    write_segment(path, key, h264_clip, writer_class=writer)
    assert path.read_bytes()[8] == 2
    samples, source = _seek(path, key, START_MS + 2500)
    assert samples == _full(path, key)
    assert source.reads[-1] == (0, path.stat().st_size)
    with (
        pytest.raises(FootageCorrupt, match="digest differs"),
        SegmentReader.seek(
            FileSource(path), key, START_MS + 2500, expected_digest="sha256:00"
        ) as reader,
    ):
        list(reader)
