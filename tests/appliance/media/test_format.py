"""The segment file: round trip, tamper and truncation detection, key-less structure check.

Every check runs on the current format with each cipher, and on format version 1 (footage
recorded before format 2, which the appliance must go on reading).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from nacl.bindings import crypto_aead_aes256gcm_decrypt, crypto_aead_aes256gcm_encrypt

from appliance.errors import FootageCorrupt, MediaError
from appliance.media import SegmentReader, inspect_segment_file
from appliance.media._aead import AesGcmSealer
from appliance.media.format import (
    _FINAL_BIT,
    _V1_DATA_OFFSET,
    CIPHER_AES256GCM,
    CIPHER_XCHACHA20POLY1305,
    DATA_OFFSET,
    best_cipher,
    file_digest,
    file_header,
    hash_file,
)
from tests.appliance.media.v1_writer import SegmentWriterV1
from tests.support.media import Clip, write_segment

FORMATS = ["aes256gcm", "xchacha20poly1305", "v1"]


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


def _write(path: Path, key: bytes, clip: Clip, fmt: str, **kwargs: Any) -> Any:
    if fmt == "v1":
        return write_segment(path, key, clip, writer_class=SegmentWriterV1, **kwargs)
    cipher = CIPHER_AES256GCM if fmt == "aes256gcm" else CIPHER_XCHACHA20POLY1305
    return write_segment(path, key, clip, cipher=cipher, **kwargs)


def _offset(fmt: str) -> int:
    return _V1_DATA_OFFSET if fmt == "v1" else DATA_OFFSET


def _messages(raw: bytes, fmt: str) -> list[tuple[int, int]]:
    """(offset of the length word, length) of every message, in order."""
    pos, found = _offset(fmt), list[tuple[int, int]]()
    while True:
        word = int.from_bytes(raw[pos : pos + 4], "little")
        length = word if fmt == "v1" else word & ~_FINAL_BIT
        if length == 0:
            return found
        found.append((pos, length))
        pos += 4 + length


def test_this_machine_writes_aes() -> None:
    """Every x86-64 and ARMv8 box has AES instructions: this one does too (CI would notice)."""
    assert best_cipher() == CIPHER_AES256GCM


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_every_sample(
    tmp_path: Path, key: bytes, h264_clip: Clip, fmt: str
) -> None:
    path = tmp_path / "s.seg"
    summary, size, digest, written = _write(path, key, h264_clip, fmt)
    raw = path.read_bytes()
    assert size == len(raw)
    if fmt == "v1":
        assert digest == "blake2b:" + hashlib.blake2b(raw, digest_size=32).hexdigest()
    else:
        assert digest == "sha256:" + hashlib.sha256(raw).hexdigest()
        assert raw[8:10] == bytes([3, 1 if fmt == "aes256gcm" else 2])
    assert file_digest(path) == digest
    assert hash_file(path, digest.partition(":")[0]) == (digest, size)
    with SegmentReader(path, key, expected_digest=digest) as reader:
        assert reader.head.video.codec == "h264"
        assert (reader.head.video.width, reader.head.video.height) == (320, 240)
        assert reader.head.video.init[4:8] == b"ftyp"
        read = list(reader)
        assert reader.summary == summary
    assert read == written
    start = summary.start_ms
    assert [s.wall_ms for s in read[:3]] == [start, start + 40, start + 80]
    assert summary.key_frames == 4 and summary.frames == 100


@pytest.mark.parametrize("fmt", FORMATS)
def test_inspect_needs_no_key_and_sees_complete_files(
    tmp_path: Path, key: bytes, h264_clip: Clip, fmt: str
) -> None:
    path = tmp_path / "s.seg"
    summary, *_ = _write(path, key, h264_clip, fmt)
    assert inspect_segment_file(path) == summary


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_truncated_file_is_detected(
    tmp_path: Path, key: bytes, h264_clip: Clip, fraction: float, fmt: str
) -> None:
    path = tmp_path / "s.seg"
    _write(path, key, h264_clip, fmt)
    raw = path.read_bytes()
    cut = _offset(fmt) + int((len(raw) - _offset(fmt)) * fraction)
    path.write_bytes(raw[:cut])
    assert inspect_segment_file(path) is None
    with (
        pytest.raises(FootageCorrupt, match=r"truncated|bad footer"),
        SegmentReader(path, key) as reader,
    ):
        list(reader)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dropping_the_last_message_is_detected(
    tmp_path: Path, key: bytes, h264_clip: Clip, fmt: str
) -> None:
    """A file cut exactly at a message boundary (and given a fake end) still fails: the final
    message is missing."""
    path = tmp_path / "s.seg"
    _write(path, key, h264_clip, fmt)
    raw = path.read_bytes()
    last, length = _messages(raw, fmt)[-1]
    path.write_bytes(raw[:last] + raw[last + 4 + length :])
    with pytest.raises(FootageCorrupt, match="truncated"), SegmentReader(path, key) as reader:
        list(reader)
    if fmt != "v1":
        assert inspect_segment_file(path) is None  # no final flag: not a complete file


@pytest.mark.parametrize("fmt", ["aes256gcm", "xchacha20poly1305"])
def test_a_message_marked_final_or_not_final_is_detected(
    tmp_path: Path, key: bytes, h264_clip: Clip, fmt: str
) -> None:
    """The final flag sits in the clear length word but is bound by the nonce: setting it on a
    middle message (to end the file early) or clearing it on the trailer fails."""
    path = tmp_path / "s.seg"
    _write(path, key, h264_clip, fmt)
    raw = bytearray(path.read_bytes())
    messages = _messages(bytes(raw), fmt)
    for pos, _ in (messages[1], messages[-1]):
        doctored = bytearray(raw)
        doctored[pos + 3] ^= 0x80
        path.write_bytes(bytes(doctored))
        with (
            pytest.raises(FootageCorrupt, match="altered or wrong key"),
            SegmentReader(path, key) as reader,
        ):
            list(reader)


@pytest.mark.parametrize("fmt", FORMATS)
def test_swapped_messages_are_detected(
    tmp_path: Path, key: bytes, h264_clip: Clip, fmt: str
) -> None:
    path = tmp_path / "s.seg"
    _write(path, key, h264_clip, fmt)
    raw = path.read_bytes()
    (a, la), (b, lb) = _messages(raw, fmt)[1:3]
    first, second = raw[a : a + 4 + la], raw[b : b + 4 + lb]
    path.write_bytes(raw[:a] + second + first + raw[b + 4 + lb :])
    assert inspect_segment_file(path) is not None  # the structure is intact ...
    with (
        pytest.raises(FootageCorrupt, match="altered or wrong key"),
        SegmentReader(path, key) as reader,
    ):
        list(reader)  # ... the order is not


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("where", ["header", "first", 5000, -40])
def test_any_flipped_bit_is_detected(
    tmp_path: Path, key: bytes, h264_clip: Clip, where: Any, fmt: str
) -> None:
    path = tmp_path / "s.seg"
    _, _, digest, _ = _write(path, key, h264_clip, fmt)
    raw = bytearray(path.read_bytes())
    at = {"header": 11, "first": _offset(fmt) + 10}.get(where, where)
    raw[at] ^= 0x04
    path.write_bytes(bytes(raw))
    with (
        pytest.raises(FootageCorrupt, match=r"altered or wrong key|digest differs from the index"),
        SegmentReader(path, key, expected_digest=digest) as reader,
    ):
        list(reader)
    assert file_digest(path) != digest


def test_the_cipher_byte_is_authenticated(tmp_path: Path, key: bytes, h264_clip: Clip) -> None:
    path = tmp_path / "s.seg"
    _write(path, key, h264_clip, "xchacha20poly1305")
    raw = bytearray(path.read_bytes())
    raw[9] = CIPHER_AES256GCM
    path.write_bytes(bytes(raw))
    with pytest.raises(FootageCorrupt, match="altered or wrong key"):
        SegmentReader(path, key)


@pytest.mark.parametrize("fmt", FORMATS)
def test_wrong_key_and_unknown_version(
    tmp_path: Path, key: bytes, h264_clip: Clip, fmt: str
) -> None:
    path = tmp_path / "s.seg"
    _write(path, key, h264_clip, fmt)
    with pytest.raises(FootageCorrupt, match="altered or wrong key"):
        SegmentReader(path, os.urandom(32))
    raw = bytearray(path.read_bytes())
    raw[8] = 9
    path.write_bytes(bytes(raw))
    with pytest.raises(MediaError, match="version 9"):
        SegmentReader(path, key)
    raw[8], raw[9] = 2, 7
    path.write_bytes(bytes(raw))
    with pytest.raises(MediaError, match="cipher 7"):
        SegmentReader(path, key)


def test_unknown_digest_algorithm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    with pytest.raises(MediaError, match="md5"):
        hash_file(path, "md5")


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_holds_no_plaintext(tmp_path: Path, key: bytes, h264_clip: Clip, fmt: str) -> None:
    path = tmp_path / "s.seg"
    _write(path, key, h264_clip, fmt)
    raw = path.read_bytes()
    for box in (b"ftyp", b"moov", b"mdat", b"avcC"):
        assert box not in raw
    assert b"\x00\x00\x00\x01\x67" not in raw  # SPS behind a start code
    assert h264_clip[5][0][-64:] not in raw
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_reused_buffer_sealing_matches_pynacl() -> None:
    """The writer's AES-GCM into a reused buffer (appliance.media._aead) gives exactly what
    pynacl's call gives, for messages that grow, shrink and are empty; a view handed out is
    the latest message's only."""
    key, aad = os.urandom(32), file_header(CIPHER_AES256GCM)
    sealer = AesGcmSealer(key, aad)
    for index, size in enumerate((0, 1, 131_072, 300_000, 17, 131_072 + 5)):
        plain = os.urandom(size)
        nonce = index.to_bytes(8, "little") + bytes(4)
        sealed = sealer.seal(plain, nonce)
        assert bytes(sealed) == crypto_aead_aes256gcm_encrypt(plain, aad, nonce, key)
        assert crypto_aead_aes256gcm_decrypt(bytes(sealed), aad, nonce, key) == plain
    with pytest.raises(ValueError, match="12-byte nonce"):
        sealer.seal(b"x", bytes(24))
