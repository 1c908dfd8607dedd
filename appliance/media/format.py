"""The encrypted segment file: writer, reader and a key-less structure check.

Layout (all integers little-endian; design/storage.md has the byte-by-byte table)::

    file header      8  magic b"\\x89CCTVSG\\n"
                     1  format version (1)
                     3  reserved, zero
                    24  secretstream header (XChaCha20-Poly1305)
    records          4  u32 ciphertext length L (> 0)
                     L  one secretstream message: HEAD first, SAMPLES..., TRAILER last (TAG_FINAL)
    end marker       4  u32 0
    footer           F  plaintext JSON summary (what the DB row holds, for re-indexing)
                     4  u32 F
                     8  magic b"\\x89CCTVND\\n"

Every message's plaintext starts with its type byte. HEAD carries the streams (codec, time base,
size, a tiny MP4 init per stream) and the wall-clock anchor; SAMPLES carries whole samples (a
table of records, then the payloads); TRAILER repeats the summary, authenticated. The file
header is the associated data of HEAD, so a changed version byte fails authentication.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_ABYTES,
    crypto_secretstream_xchacha20poly1305_HEADERBYTES,
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
)
from nacl.exceptions import CryptoError

from appliance.errors import IntegrityError, MediaError

__all__ = [
    "CHUNK_TARGET_BYTES",
    "FILE_HEADER",
    "Sample",
    "SegmentHead",
    "SegmentReader",
    "SegmentSummary",
    "SegmentWriter",
    "StreamInfo",
    "inspect_segment_file",
]

MAGIC = b"\x89CCTVSG\n"
END_MAGIC = b"\x89CCTVND\n"
VERSION = 1
FILE_HEADER = MAGIC + bytes([VERSION, 0, 0, 0])
_SS_HEADER = crypto_secretstream_xchacha20poly1305_HEADERBYTES
_ABYTES = crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_FINAL = crypto_secretstream_xchacha20poly1305_TAG_FINAL
_TAG_MESSAGE = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
DATA_OFFSET = len(FILE_HEADER) + _SS_HEADER
# Large messages keep the per-message cost (one push, one length, 17 bytes of tag) negligible;
# below 256 KiB so their buffers are reused from the heap (see recorder/memory.py).
CHUNK_TARGET_BYTES = 128 * 1024
# A single message never exceeds this (a sample larger than it is refused: no camera sends one).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

_MSG_HEAD, _MSG_SAMPLES, _MSG_TRAILER = 1, 2, 3
# stream index u8, flags u8 (bit 0: key frame), size u32, pts i64, dts i64, duration u32
_RECORD = struct.Struct("<BBIqqI")
_U32 = struct.Struct("<I")
_FLAG_KEY = 1


@dataclass(frozen=True)
class StreamInfo:
    """One stored elementary stream. ``init`` is an MP4 init (ftyp+moov) with its parameters."""

    index: int
    kind: str  # "video" or "audio"
    codec: str  # FFmpeg codec name: h264, hevc, aac ...
    time_base_num: int
    time_base_den: int
    width: int = 0
    height: int = 0
    sample_rate: int = 0
    init: bytes = field(default=b"", repr=False)

    @property
    def time_base(self) -> Fraction:
        return Fraction(self.time_base_num, self.time_base_den)


@dataclass(frozen=True)
class SegmentHead:
    """What a reader needs before the first sample.

    Wall clock: a timestamp ``ts`` of stream ``s`` happened at
    ``anchor_wall_ms + (ts * tb_s - anchor_ts * tb_0) * 1000`` (UTC ms), stream 0 being video.
    """

    camera_id: str
    start_ms: int
    anchor_wall_ms: int
    anchor_ts: int
    streams: tuple[StreamInfo, ...]

    def wall_ms(self, stream_index: int, ts: int) -> int:
        offset_s = ts * self.streams[stream_index].time_base - self.anchor_ts * self.video.time_base
        return self.anchor_wall_ms + int(offset_s * 1000)

    @property
    def video(self) -> StreamInfo:
        return self.streams[0]


@dataclass(frozen=True)
class Sample:
    """One stored packet, exactly as the camera sent it (Annex-B for H.264/H.265)."""

    stream_index: int
    data: bytes
    pts: int
    dts: int
    duration: int
    is_key: bool
    wall_ms: int = 0  # filled by the reader from the head's anchor


@dataclass(frozen=True)
class SegmentSummary:
    """The segment's row values; stored encrypted (trailer) and in clear (footer)."""

    camera_id: str
    start_ms: int
    end_ms: int
    frames: int
    key_frames: int
    samples: int
    payload_bytes: int
    codec: str
    width: int
    height: int
    has_audio: bool

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> SegmentSummary:
        try:
            return cls(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise IntegrityError(f"bad segment summary: {exc}") from exc


def _encode_head(head: SegmentHead) -> bytes:
    meta = {
        "camera_id": head.camera_id,
        "start_ms": head.start_ms,
        "anchor_wall_ms": head.anchor_wall_ms,
        "anchor_ts": head.anchor_ts,
        "streams": [
            {**{k: v for k, v in asdict(s).items() if k != "init"}, "init_bytes": len(s.init)}
            for s in head.streams
        ],
    }
    raw = json.dumps(meta, separators=(",", ":")).encode()
    return b"".join([bytes([_MSG_HEAD]), _U32.pack(len(raw)), raw, *(s.init for s in head.streams)])


def _decode_head(plain: bytes) -> SegmentHead:
    try:
        (size,) = _U32.unpack_from(plain, 1)
        meta: dict[str, Any] = json.loads(plain[5 : 5 + size])
        pos = 5 + size
        streams = []
        for item in meta["streams"]:
            length = item.pop("init_bytes")
            streams.append(StreamInfo(**item, init=plain[pos : pos + length]))
            pos += length
        return SegmentHead(
            camera_id=meta["camera_id"],
            start_ms=meta["start_ms"],
            anchor_wall_ms=meta["anchor_wall_ms"],
            anchor_ts=meta["anchor_ts"],
            streams=tuple(streams),
        )
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise IntegrityError(f"bad segment head: {exc}") from exc


class SegmentWriter:
    """Encrypts a segment into an open file descriptor as samples arrive.

    Memory stays at about one chunk; nothing but ciphertext and the footer reaches the file.
    The caller owns the file (temp name, fsync, rename: see ``recorder.segments``).
    """

    def __init__(
        self, fd: int, key: bytes, head: SegmentHead, *, chunk_bytes: int = CHUNK_TARGET_BYTES
    ) -> None:
        if not head.streams or head.streams[0].kind != "video":
            raise MediaError("a segment's stream 0 must be video")
        self._fd = fd
        self._hash = hashlib.blake2b(digest_size=32)
        self._size = 0
        self._chunk_bytes = chunk_bytes
        self._records: list[bytes] = []
        self._payloads: list[bytes] = []
        self._pending = 0
        self._state = crypto_secretstream_xchacha20poly1305_state()
        ss_header = crypto_secretstream_xchacha20poly1305_init_push(self._state, key)
        self._write(FILE_HEADER + ss_header)
        self._push(_encode_head(head), ad=FILE_HEADER)
        self.samples = 0
        self.payload_bytes = 0
        self.finished = False

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._hash.update(data)
        self._size += len(data)

    def _push(self, plain: bytes, *, ad: bytes | None = None, tag: int = _TAG_MESSAGE) -> None:
        cipher = crypto_secretstream_xchacha20poly1305_push(self._state, plain, ad, tag)
        self._write(_U32.pack(len(cipher)))
        self._write(cipher)

    def add(self, sample: Sample) -> None:
        """Append one sample; a full chunk is encrypted and written."""
        self.add_raw(
            sample.stream_index, sample.data, sample.pts, sample.dts, sample.duration, sample.is_key
        )

    def add_raw(
        self, stream_index: int, data: bytes, pts: int, dts: int, duration: int, is_key: bool
    ) -> None:
        """``add`` without building a Sample (the recorder's per-packet path)."""
        size = len(data)
        if size + 64 > MAX_MESSAGE_BYTES:
            raise MediaError(f"sample of {size} bytes is too large")
        self._records.append(
            _RECORD.pack(stream_index, _FLAG_KEY if is_key else 0, size, pts, dts, duration)
        )
        self._payloads.append(data)
        self._pending += size + _RECORD.size
        self.samples += 1
        self.payload_bytes += size
        if self._pending >= self._chunk_bytes:
            self.flush()

    def flush(self) -> None:
        """Encrypt and write the buffered samples as one message."""
        if not self._records:
            return
        plain = b"".join(
            [bytes([_MSG_SAMPLES]), _U32.pack(len(self._records)), *self._records, *self._payloads]
        )
        self._records, self._payloads, self._pending = [], [], 0
        self._push(plain)

    def finish(self, summary: SegmentSummary) -> tuple[int, str]:
        """Write the final message and the footer; return (size in bytes, blake2b hex)."""
        self.flush()
        summary_json = summary.to_json()
        self._push(bytes([_MSG_TRAILER]) + summary_json, tag=_TAG_FINAL)
        self._write(_U32.pack(0) + summary_json + _U32.pack(len(summary_json)) + END_MAGIC)
        self.finished = True
        return self._size, self._hash.hexdigest()


class SegmentReader:
    """Decrypts a segment file and yields its samples, verifying it as it goes.

    Each message is authenticated before its samples are yielded; a truncated, reordered or
    altered file raises IntegrityError (at the latest when the end is reached without the
    final tag, or when the whole-file BLAKE2b differs from ``expected_blake2b_hex``).
    """

    def __init__(self, path: Path, key: bytes, *, expected_blake2b_hex: str | None = None) -> None:
        self.path = path
        self._expected = expected_blake2b_hex
        self._hash = hashlib.blake2b(digest_size=32)
        try:
            self._file: BinaryIO = path.open("rb")
        except FileNotFoundError as exc:
            raise IntegrityError(f"segment file {path} is missing") from exc
        try:
            header = self._read(DATA_OFFSET)
            if header[:8] != MAGIC:
                raise IntegrityError(f"{path}: not a segment file")
            if header[8] != VERSION:
                raise MediaError(f"{path}: segment format version {header[8]} is not supported")
            self._state = crypto_secretstream_xchacha20poly1305_state()
            crypto_secretstream_xchacha20poly1305_init_pull(
                self._state, header[len(FILE_HEADER) :], key
            )
            plain, tag = self._pull(ad=header[: len(FILE_HEADER)])
            if not plain or plain[0] != _MSG_HEAD or tag != _TAG_MESSAGE:
                raise IntegrityError(f"{path}: the first message is not a head")
            self.head = _decode_head(plain)
        except BaseException:
            self._file.close()
            raise
        self.summary: SegmentSummary | None = None

    def _read(self, size: int) -> bytes:
        data = self._file.read(size)
        if len(data) != size:
            raise IntegrityError(f"{self.path}: truncated")
        self._hash.update(data)
        return data

    def _pull(self, *, ad: bytes | None = None) -> tuple[bytes, int]:
        (size,) = _U32.unpack(self._read(4))
        if size == 0:
            raise IntegrityError(f"{self.path}: ends without its final message (truncated)")
        if size > MAX_MESSAGE_BYTES + _ABYTES:
            raise IntegrityError(f"{self.path}: message length {size} is implausible")
        try:
            cipher = self._read(size)
            plain, tag = crypto_secretstream_xchacha20poly1305_pull(self._state, cipher, ad)
        except CryptoError as exc:
            raise IntegrityError(f"{self.path}: altered or wrong key") from exc
        return plain, tag

    def __iter__(self) -> Iterator[Sample]:
        head = self.head
        while True:
            plain, tag = self._pull()
            kind = plain[0] if plain else 0
            if kind == _MSG_SAMPLES:
                if tag != _TAG_MESSAGE:
                    raise IntegrityError(f"{self.path}: samples after the end")
                yield from self._samples(plain, head)
            elif kind == _MSG_TRAILER and tag == _TAG_FINAL:
                self.summary = SegmentSummary.from_json(plain[1:])
                self._check_end()
                return
            else:
                raise IntegrityError(f"{self.path}: unexpected message type {kind}")

    def _samples(self, plain: bytes, head: SegmentHead) -> Iterator[Sample]:
        (count,) = _U32.unpack_from(plain, 1)
        pos = 5 + count * _RECORD.size
        for index in range(count):
            stream, flags, size, pts, dts, duration = _RECORD.unpack_from(
                plain, 5 + index * _RECORD.size
            )
            if stream >= len(head.streams) or pos + size > len(plain):
                raise IntegrityError(f"{self.path}: bad sample record")
            yield Sample(
                stream_index=stream,
                data=plain[pos : pos + size],
                pts=pts,
                dts=dts,
                duration=duration,
                is_key=bool(flags & _FLAG_KEY),
                wall_ms=head.wall_ms(stream, pts),
            )
            pos += size

    def _check_end(self) -> None:
        rest = self._file.read()
        self._hash.update(rest)
        if len(rest) < 16 or rest[:4] != _U32.pack(0) or rest[-8:] != END_MAGIC:
            raise IntegrityError(f"{self.path}: bad footer")
        if self._expected is not None and self._hash.hexdigest() != self._expected:
            raise IntegrityError(f"{self.path}: BLAKE2b differs from the index")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SegmentReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def inspect_segment_file(path: Path) -> SegmentSummary | None:
    """The footer summary if the file is structurally complete, else None. Needs no key.

    Walks the record lengths from the header to the end marker, so a file cut anywhere (the
    recorder killed mid-write) is recognised without decrypting anything (invariant 2).
    """
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size < DATA_OFFSET + 16:
                return None
            handle.seek(0)
            if handle.read(len(MAGIC)) != MAGIC:
                return None
            handle.seek(size - 12)
            tail = handle.read(12)
            if tail[4:] != END_MAGIC:
                return None
            (footer_len,) = _U32.unpack(tail[:4])
            footer_at = size - 12 - footer_len
            pos, ended = DATA_OFFSET, False
            while pos < footer_at and not ended:
                handle.seek(pos)
                raw = handle.read(4)
                if len(raw) != 4:
                    return None
                (length,) = _U32.unpack(raw)
                pos += 4 + length
                ended = length == 0
            if not ended or pos != footer_at:
                return None
            handle.seek(footer_at)
            return SegmentSummary.from_json(handle.read(footer_len))
    except (OSError, IntegrityError):
        return None
