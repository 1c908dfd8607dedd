"""The encrypted segment file: writer, reader and a key-less structure check.

One module because it is one file format: the writer, the reader and the check share its
constants and record encodings and must change together (hence its length).

Layout of format version 3, written since issue 19's TTFB work (all integers little-endian;
design/storage.md has the byte-by-byte table)::

    file header      8  magic b"\\x89CCTVSG\\n"
                     1  format version (3)
                     1  cipher: 1 AES-256-GCM, 2 XChaCha20-Poly1305-IETF (no AES hardware)
                     2  reserved, zero
    records          4  u32: ciphertext length L (> 0), bit 31 set on the final message
                     L  message i (i = 0, 1, ...): AEAD of the plaintext, nonce = u64 i | u32
                        final, associated data = the 12-byte file header. HEAD first,
                        SAMPLES..., INDEX, TRAILER last (final)
    end marker       4  u32 0
    footer           F  plaintext JSON summary (what the DB row holds, for re-indexing) and
                        where the INDEX message is (``index_at``, ``index_no``)
                     4  u32 F
                     8  magic b"\\x89CCTVND\\n"

The digest of a version 2 or 3 file is SHA-256 of all its bytes ("sha256:<hex>"). Version 2
(read only) has no INDEX message and no locator in its footer.

Version 1 (read only: footage recorded before) differs in the header (3 reserved bytes, then the
24-byte libsodium secretstream header), in its messages (one secretstream, TAG_FINAL on the
last, the file header as associated data of the first only) and in its digest (BLAKE2b-256,
"blake2b:<hex>").

Every message's plaintext starts with its type byte. HEAD carries the streams (codec, time base,
size, a tiny MP4 init per stream) and the wall-clock anchor; SAMPLES carries whole samples (a
table of records, then the payloads); INDEX lists the SAMPLES messages that hold a video key
frame (offset, message number, the key frame's pts) and repeats the HEAD, so
``SegmentReader.seek`` reads the file's tail and then decrypts from the wanted key frame;
TRAILER repeats the summary, authenticated. A message's index and final flag are in its nonce:
a message removed, repeated, moved or cut off at the end fails, and so does a changed header
byte (it is the associated data of every message).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from nacl.bindings import (
    crypto_aead_aes256gcm_ABYTES,
    crypto_aead_aes256gcm_decrypt,
    crypto_aead_aes256gcm_encrypt,
    crypto_aead_xchacha20poly1305_ietf_ABYTES,
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_secretstream_xchacha20poly1305_ABYTES,
    crypto_secretstream_xchacha20poly1305_HEADERBYTES,
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
)
from nacl.exceptions import CryptoError, UnavailableError

from appliance.errors import FootageCorrupt, MediaError
from appliance.media._aead import AesGcmSealer

__all__ = [
    "CHUNK_TARGET_BYTES",
    "CIPHER_AES256GCM",
    "CIPHER_XCHACHA20POLY1305",
    "DATA_OFFSET",
    "FILE_HEADER",
    "ByteStream",
    "RandomSource",
    "Sample",
    "SegmentHead",
    "SegmentReader",
    "SegmentSummary",
    "SegmentWriter",
    "StreamInfo",
    "best_cipher",
    "digest_hasher",
    "file_digest",
    "hash_file",
    "inspect_segment_file",
    "seek_ranges",
]

MAGIC = b"\x89CCTVSG\n"
END_MAGIC = b"\x89CCTVND\n"
VERSION = 3
_V1 = 1
_V2 = 2
CIPHER_AES256GCM = 1
CIPHER_XCHACHA20POLY1305 = 2
HEADER_BYTES = len(MAGIC) + 4
# Where the first message's length is, in a file of the current version.
DATA_OFFSET = HEADER_BYTES
_SS_HEADER = crypto_secretstream_xchacha20poly1305_HEADERBYTES
_V1_DATA_OFFSET = HEADER_BYTES + _SS_HEADER
_V1_ABYTES = crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_FINAL = crypto_secretstream_xchacha20poly1305_TAG_FINAL
_TAG_MESSAGE = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_FINAL_BIT = 1 << 31
# Large messages keep the per-message cost (one AEAD call, one write, 16 bytes of tag)
# negligible; below 256 KiB so their buffers are reused from the heap (see recorder/memory.py).
CHUNK_TARGET_BYTES = 128 * 1024
# A single message never exceeds this (a sample larger than it is refused: no camera sends one).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

_MSG_HEAD, _MSG_SAMPLES, _MSG_TRAILER, _MSG_INDEX = 1, 2, 3, 4
# INDEX entry: byte offset of the message's length word u64, message number u32, pts of its
# first video key frame i64
_ENTRY = struct.Struct("<QIq")
# Clear footer keys that locate the INDEX message (not part of the summary).
_LOCATOR = ("index_at", "index_no")
# What ``seek`` reads first: the file's tail (footer, TRAILER and INDEX fit unless a segment
# is hours long or a camera's MP4 init unusually large; then more is read).
_TAIL_BYTES = 16 * 1024
# How far past the next key frame's message start a seek asks to read at once (that message:
# a 128 KiB chunk and the key frame that ends it).
_NEXT_KEY_BYTES = 256 * 1024
# stream index u8, flags u8 (bit 0: key frame), size u32, pts i64, dts i64, duration u32
_RECORD = struct.Struct("<BBIqqI")
_U32 = struct.Struct("<I")
_NONCE = struct.Struct("<QI")  # message index, final flag
_FLAG_KEY = 1
_HASHES: dict[str, Callable[[], Any]] = {
    "sha256": hashlib.sha256,
    "blake2b": lambda: hashlib.blake2b(digest_size=32),
}
# The digest of each format version.
_DIGEST_NAMES = {_V1: "blake2b", _V2: "sha256", VERSION: "sha256"}


class ByteStream(Protocol):
    """What ``SegmentReader`` reads besides a path: ``read(n)`` returns n bytes unless the data
    ends, ``read()`` the rest, and ``close``. A binary file is one; so is a stream from the
    object store (``appliance.storage``)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class RandomSource(Protocol):
    """A segment file's bytes by offset, for ``SegmentReader.seek``: the local file, or an
    object in the store (``appliance.storage``). ``stream_from`` hands its resources to the
    stream it returns (the reader closes that); ``close`` is for when no stream was taken."""

    size: int

    def read_at(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` (fewer only if the file ends)."""
        ...

    def stream_from(self, start: int, upto: int | None = None) -> ByteStream:
        """Bytes from ``start`` to the end; ``upto`` says the reader will want at least the
        bytes before it at once (a remote source asks for them in its first request)."""
        ...

    def close(self) -> None: ...


def file_header(cipher: int, version: int = VERSION) -> bytes:
    return MAGIC + bytes([version, cipher, 0, 0])


# The header of a current file with the default cipher (tests and tools use it for offsets).
FILE_HEADER = file_header(CIPHER_AES256GCM)


class _Aead(Protocol):
    def __call__(self, message: bytes, aad: bytes | None, nonce: bytes, key: bytes, /) -> bytes: ...


def _xchacha_encrypt(message: bytes, aad: bytes | None, nonce: bytes, key: bytes) -> bytes:
    return crypto_aead_xchacha20poly1305_ietf_encrypt(message, aad, nonce + bytes(12), key)


def _xchacha_decrypt(message: bytes, aad: bytes | None, nonce: bytes, key: bytes) -> bytes:
    return crypto_aead_xchacha20poly1305_ietf_decrypt(message, aad, nonce + bytes(12), key)


# cipher id -> (encrypt, decrypt, tag bytes, name)
_CIPHERS: dict[int, tuple[_Aead, _Aead, int, str]] = {
    CIPHER_AES256GCM: (
        crypto_aead_aes256gcm_encrypt,
        crypto_aead_aes256gcm_decrypt,
        crypto_aead_aes256gcm_ABYTES,
        "AES-256-GCM",
    ),
    CIPHER_XCHACHA20POLY1305: (
        _xchacha_encrypt,
        _xchacha_decrypt,
        crypto_aead_xchacha20poly1305_ietf_ABYTES,
        "XChaCha20-Poly1305",
    ),
}


def _aes_available() -> bool:
    try:
        crypto_aead_aes256gcm_encrypt(b"", None, bytes(12), bytes(32))
    except UnavailableError:
        return False
    return True


def best_cipher() -> int:
    """AES-256-GCM where the CPU has AES instructions (every x86-64 and ARMv8 appliance), else
    XChaCha20-Poly1305 (the reader handles both, whatever machine wrote the file)."""
    return CIPHER_AES256GCM if _AES else CIPHER_XCHACHA20POLY1305


_AES = _aes_available()


def cipher_name(cipher: int) -> str:
    return _CIPHERS[cipher][3]


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
            values = json.loads(raw)
            for name in _LOCATOR:  # a version 3 footer's locator
                values.pop(name, None)
            return cls(**values)
        except (ValueError, TypeError) as exc:
            raise FootageCorrupt(f"bad segment summary: {exc}") from exc


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
        raise FootageCorrupt(f"bad segment head: {exc}") from exc


class SegmentWriter:
    """Encrypts a segment into an open file descriptor as samples arrive.

    Memory stays at about one chunk; nothing but ciphertext and the footer reaches the file.
    The caller owns the file (temp name, fsync, rename: see ``recorder.segments``).
    """

    def __init__(
        self,
        fd: int,
        key: bytes,
        head: SegmentHead,
        *,
        chunk_bytes: int = CHUNK_TARGET_BYTES,
        cipher: int | None = None,
        version: int = VERSION,
    ) -> None:
        """``version`` 2 writes the previous format, without the INDEX (tests of old footage)."""
        if not head.streams or head.streams[0].kind != "video":
            raise MediaError("a segment's stream 0 must be video")
        if version not in (_V2, VERSION):
            raise MediaError(f"cannot write segment format version {version}")
        self.version = version
        self.cipher = best_cipher() if cipher is None else cipher
        if self.cipher == CIPHER_AES256GCM and not _AES:
            raise MediaError("AES-256-GCM needs AES instructions this CPU does not have")
        self._encrypt = _CIPHERS[self.cipher][0]
        self._fd = fd
        self._key = key
        self._header = file_header(self.cipher, version)
        # AES-GCM straight into a reused buffer (appliance.media._aead says why).
        self._sealer = AesGcmSealer(key, self._header) if self.cipher == CIPHER_AES256GCM else None
        self._hash = hashlib.sha256()
        self._size = 0
        self._index = 0  # of the next message
        self._chunk_bytes = chunk_bytes
        self._records: list[bytes] = []
        self._payloads: list[bytes] = []
        self._pending = 0
        self._key_pts: int | None = None  # first video key frame of the buffered samples
        self._entries: list[bytes] = []  # the INDEX
        self._write(self._header)
        self._head_plain = _encode_head(head)  # repeated in the INDEX (a seek reads only that)
        self._push(self._head_plain)
        self.samples = 0
        self.payload_bytes = 0
        self.finished = False

    def _write(self, *parts: bytes | memoryview) -> None:
        for part in parts:
            self._hash.update(part)
        total = sum(len(part) for part in parts)
        written = os.writev(self._fd, parts)
        if written != total:  # a short write (rare: signals, a full disk): finish it
            rest = memoryview(b"".join(parts))[written:]
            while rest:
                rest = rest[os.write(self._fd, rest) :]
        self._size += total

    def _push(self, plain: bytes, *, final: bool = False) -> None:
        nonce = _NONCE.pack(self._index, final)
        if self._sealer is not None:
            cipher: bytes | memoryview = self._sealer.seal(plain, nonce)
        else:
            cipher = self._encrypt(plain, self._header, nonce, self._key)
        self._index += 1
        self._write(_U32.pack(len(cipher) | (_FINAL_BIT if final else 0)), cipher)

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
        if is_key and stream_index == 0 and self._key_pts is None:
            self._key_pts = pts
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
        if self._key_pts is not None:
            self._entries.append(_ENTRY.pack(self._size, self._index, self._key_pts))
        self._records, self._payloads, self._pending, self._key_pts = [], [], 0, None
        self._push(plain)

    def finish(self, summary: SegmentSummary) -> tuple[int, str]:
        """Write the INDEX, the final message and the footer; return (size in bytes,
        "sha256:<hex>")."""
        self.flush()
        index_at, index_no = self._size, self._index
        if self.version >= VERSION:
            count = _U32.pack(len(self._entries))
            self._push(b"".join([bytes([_MSG_INDEX]), count, *self._entries, self._head_plain]))
        summary_json = summary.to_json()
        self._push(bytes([_MSG_TRAILER]) + summary_json, final=True)
        raw = summary_json
        if self.version >= VERSION:
            footer = {**asdict(summary), **dict(zip(_LOCATOR, (index_at, index_no), strict=True))}
            raw = json.dumps(footer, sort_keys=True, separators=(",", ":")).encode()
        self._write(_U32.pack(0) + raw + _U32.pack(len(raw)) + END_MAGIC)
        self.finished = True
        self._key = b""
        if self._sealer is not None:
            self._sealer.forget()
        return self._size, f"sha256:{self._hash.hexdigest()}"


class SegmentReader:
    """Decrypts a segment file and yields its samples, verifying it as it goes.

    Each message is authenticated before its samples are yielded; a truncated, reordered or
    altered file raises FootageCorrupt (at the latest when the end is reached without the
    final message, or when the file's digest differs from ``expected_digest``). Reads format
    versions 1 and 2.
    """

    def __init__(
        self,
        source: Path | ByteStream,
        key: bytes,
        *,
        expected_digest: str | None = None,
        name: str = "",
    ) -> None:
        """Read ``source``: a path, or a stream (an object store's) that the reader then owns
        and closes; ``name`` labels a stream in errors."""
        path = source if isinstance(source, Path) else Path(name or "<stream>")
        self.path = path
        self._key = key
        self._expected = expected_digest
        if isinstance(source, Path):
            try:
                self._file: ByteStream = source.open("rb")
            except FileNotFoundError as exc:
                raise FootageCorrupt(f"segment file {path} is missing") from exc
        else:
            self._file = source
        try:
            header = self._file.read(HEADER_BYTES)
            if len(header) != HEADER_BYTES or header[:8] != MAGIC:
                raise FootageCorrupt(f"{path}: not a segment file")
            self.version = header[8]
            if self.version not in _DIGEST_NAMES:
                raise MediaError(f"{path}: segment format version {header[8]} is not supported")
            self._hash = _HASHES[_DIGEST_NAMES[self.version]]()
            self._hash.update(header)
            self._header = header
            self._index = 0
            self._ended = False
            if self.version == _V1:
                self._state = crypto_secretstream_xchacha20poly1305_state()
                crypto_secretstream_xchacha20poly1305_init_pull(
                    self._state, self._read(_SS_HEADER), key
                )
            elif header[9] not in _CIPHERS:
                raise MediaError(f"{path}: unknown cipher {header[9]}")
            else:
                self._decrypt = _CIPHERS[header[9]][1]
            plain, final = self._pull()
            if not plain or plain[0] != _MSG_HEAD or final:
                raise FootageCorrupt(f"{path}: the first message is not a head")
            self.head = _decode_head(plain)
        except BaseException:
            self._file.close()
            raise
        self.summary: SegmentSummary | None = None

    def _read(self, size: int) -> bytes:
        data = self._file.read(size)
        if len(data) != size:
            raise FootageCorrupt(f"{self.path}: truncated")
        self._hash.update(data)
        return data

    def _pull(self) -> tuple[bytes, bool]:
        """The next message's plaintext and whether it is the final one."""
        (word,) = _U32.unpack(self._read(4))
        if word == 0:
            raise FootageCorrupt(f"{self.path}: ends without its final message (truncated)")
        v1 = self.version == _V1
        size = word if v1 else word & ~_FINAL_BIT
        if size > MAX_MESSAGE_BYTES + _V1_ABYTES:
            raise FootageCorrupt(f"{self.path}: message length {size} is implausible")
        try:
            cipher = self._read(size)
            if v1:
                ad = self._header if self._index == 0 else None
                plain, tag = crypto_secretstream_xchacha20poly1305_pull(self._state, cipher, ad)
                final = tag == _TAG_FINAL
                if not final and tag != _TAG_MESSAGE:
                    raise FootageCorrupt(f"{self.path}: unexpected tag {tag}")
            else:
                final = bool(word & _FINAL_BIT)
                nonce = _NONCE.pack(self._index, final)
                plain = self._decrypt(cipher, self._header, nonce, self._key)
        except CryptoError as exc:
            raise FootageCorrupt(f"{self.path}: altered or wrong key") from exc
        self._index += 1
        return plain, final

    def __iter__(self) -> Iterator[Sample]:
        head = self.head
        while True:
            plain, final = self._pull()
            kind = plain[0] if plain else 0
            if kind == _MSG_SAMPLES and not final:
                yield from self._samples(plain, head)
            elif kind == _MSG_INDEX and not final and self.version >= VERSION:
                continue
            elif kind == _MSG_TRAILER and final:
                self.summary = SegmentSummary.from_json(plain[1:])
                self._check_end()
                return
            else:
                raise FootageCorrupt(f"{self.path}: unexpected message type {kind}")

    def _samples(self, plain: bytes, head: SegmentHead) -> Iterator[Sample]:
        (count,) = _U32.unpack_from(plain, 1)
        pos = 5 + count * _RECORD.size
        for index in range(count):
            stream, flags, size, pts, dts, duration = _RECORD.unpack_from(
                plain, 5 + index * _RECORD.size
            )
            if stream >= len(head.streams) or pos + size > len(plain):
                raise FootageCorrupt(f"{self.path}: bad sample record")
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
            raise FootageCorrupt(f"{self.path}: bad footer")
        digest = f"{_DIGEST_NAMES[self.version]}:{self._hash.hexdigest()}"
        if self._expected is not None and digest != self._expected:
            raise FootageCorrupt(f"{self.path}: the file's digest differs from the index")

    @classmethod
    def seek(
        cls,
        source: RandomSource,
        key: bytes,
        at_ms: int,
        *,
        expected_digest: str | None = None,
        name: str = "",
    ) -> SegmentReader:
        """A reader whose samples start at the message holding the last video key frame at or
        before the wall time ``at_ms`` (every sample from there on, in file order), without
        reading or decrypting what comes before it.

        The clear footer says where the INDEX message is; it carries a copy of the HEAD, so the
        file's tail is all a seek reads before it jumps (one request to an object store). The
        INDEX, and every message read after the jump, is authenticated under its own number
        with the file header as associated data, as in a sequential read: a wrong locator or a
        moved message fails (FootageCorrupt). The file's digest cannot be checked from the
        middle (``expected_digest`` is then not used). A file without an index (format 1 or
        2), or a time before its first key frame, is read from the start.
        """
        path = Path(name or "<stream>")
        try:
            index = _read_index(source, key, path)
            jump = None if index is None else index.find(at_ms)
            if index is None or jump is None:
                return cls(source.stream_from(0), key, expected_digest=expected_digest, name=name)
        except BaseException:
            source.close()
            raise
        offset, number, upto = jump
        reader = cls.__new__(cls)
        reader.path, reader._key, reader._expected = path, key, None
        reader.version, reader._header, reader._decrypt = VERSION, index.header, index.decrypt
        reader._hash = hashlib.sha256()  # not compared: a digest needs the whole file
        reader._index, reader._ended, reader.head, reader.summary = number, False, index.head, None
        reader._file = source.stream_from(offset, upto)
        return reader

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


def seek_ranges(size: int) -> tuple[tuple[int, int], ...]:
    """The byte ranges ``SegmentReader.seek`` reads first from a file of ``size`` bytes (its
    tail): a remote source can ask for them as soon as it is opened."""
    return ((max(0, size - _TAIL_BYTES), size),)


@dataclass(frozen=True)
class _Index:
    """A version 3 file's decrypted INDEX message."""

    header: bytes
    decrypt: _Aead
    head: SegmentHead
    entries: list[tuple[int, int, int]]  # (offset, message number, key frame pts)
    index_at: int

    def find(self, at_ms: int) -> tuple[int, int, int] | None:
        """(offset, message number) of the last key frame at or before ``at_ms``, and where
        what a player needs at once ends: that key frame's group and the message of the next
        key frame, which closes the first fragment."""
        found: tuple[int, int, int] | None = None
        for offset, number, pts in self.entries:
            if found is not None:
                found = (found[0], found[1], min(offset + _NEXT_KEY_BYTES, self.index_at))
            if self.head.wall_ms(0, pts) > at_ms:
                break
            found = (offset, number, self.index_at)
        return found


def _read_index(source: RandomSource, key: bytes, path: Path) -> _Index | None:
    """The INDEX of a version 3 file, read from its tail; None for a file without one."""
    size = source.size
    tail_at = max(0, size - _TAIL_BYTES)
    tail = source.read_at(tail_at, size)
    if len(tail) < 16 or tail[-8:] != END_MAGIC:
        raise FootageCorrupt(f"{path}: bad footer")
    (footer_len,) = _U32.unpack_from(tail, len(tail) - 12)
    if footer_len + 12 > len(tail) and footer_len + 12 <= size:
        tail_at = size - footer_len - 12
        tail = source.read_at(tail_at, size)
    lost = FootageCorrupt(f"{path}: the footer does not locate the index")
    try:
        footer = json.loads(tail[len(tail) - 12 - footer_len : len(tail) - 12])
        if "index_at" not in footer:
            return None  # format 1 or 2
        index_at, number = int(footer["index_at"]), int(footer["index_no"])
    except (ValueError, KeyError, TypeError) as exc:
        raise lost from exc
    if not 0 <= index_at <= size - 4 or number < 1:
        raise lost
    if index_at < tail_at:
        tail_at, tail = index_at, source.read_at(index_at, size)
    (word,) = _U32.unpack_from(tail, index_at - tail_at)
    start = index_at - tail_at + 4
    length = word & ~_FINAL_BIT
    if word & _FINAL_BIT or start + length > len(tail):
        raise lost
    message, nonce = tail[start : start + length], _NONCE.pack(number, 0)
    # The cipher byte is in the file's first bytes, not read here: the header is the
    # associated data, so only the right one opens the message.
    for cipher in (CIPHER_AES256GCM, CIPHER_XCHACHA20POLY1305):
        if cipher == CIPHER_AES256GCM and not _AES:
            continue
        header, decrypt = file_header(cipher), _CIPHERS[cipher][1]
        try:
            plain = decrypt(message, header, nonce, key)
            break
        except CryptoError:
            continue
    else:
        raise FootageCorrupt(f"{path}: altered index or wrong key")
    if len(plain) < 5 or plain[0] != _MSG_INDEX:
        raise lost
    (count,) = _U32.unpack_from(plain, 1)
    end = 5 + count * _ENTRY.size
    if len(plain) <= end or plain[end] != _MSG_HEAD:
        raise FootageCorrupt(f"{path}: bad index")
    entries = [(int(o), int(n), int(p)) for o, n, p in _ENTRY.iter_unpack(plain[5:end])]
    return _Index(header, decrypt, _decode_head(plain[end:]), entries, index_at)


def hash_file(path: Path, algorithm: str) -> tuple[str, int]:
    """("<algorithm>:<hex>", size in bytes) of a file; ``algorithm`` is "sha256" or "blake2b"
    (the prefix of ``segment.digest``). MediaError for another; OSError if unreadable."""
    try:
        digest = _HASHES[algorithm]()
    except KeyError:
        raise MediaError(f"unknown digest algorithm {algorithm!r}") from None
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return f"{algorithm}:{digest.hexdigest()}", size


def digest_hasher(algorithm: str) -> Any:
    """A fresh hashlib object for a ``segment.digest`` prefix ("sha256", "blake2b");
    MediaError for another."""
    try:
        return _HASHES[algorithm]()
    except KeyError:
        raise MediaError(f"unknown digest algorithm {algorithm!r}") from None


def file_digest(path: Path) -> str:
    """The digest the index keeps for a segment file: "sha256:<hex>" for the current format,
    "blake2b:<hex>" for version 1. Needs no key. OSError if unreadable."""
    with path.open("rb") as handle:
        header = handle.read(HEADER_BYTES)
    version = header[8] if len(header) > 8 and header[:8] == MAGIC else VERSION
    return hash_file(path, _DIGEST_NAMES.get(version, "sha256"))[0]


def inspect_segment_file(path: Path) -> SegmentSummary | None:
    """The footer summary if the file is structurally complete, else None. Needs no key.

    Walks the record lengths from the header to the end marker, so a file cut anywhere (the
    recorder killed mid-write) is recognised without decrypting anything (invariant 2).
    """
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(0)
            header = handle.read(HEADER_BYTES)
            if len(header) != HEADER_BYTES or header[:8] != MAGIC:
                return None
            v1 = header[8] == _V1
            data_offset = _V1_DATA_OFFSET if v1 else HEADER_BYTES
            if size < data_offset + 16:
                return None
            handle.seek(size - 12)
            tail = handle.read(12)
            if tail[4:] != END_MAGIC:
                return None
            (footer_len,) = _U32.unpack(tail[:4])
            footer_at = size - 12 - footer_len
            pos, ended, final_seen = data_offset, False, v1
            while pos < footer_at and not ended:
                handle.seek(pos)
                raw = handle.read(4)
                if len(raw) != 4:
                    return None
                (word,) = _U32.unpack(raw)
                length = word if v1 else word & ~_FINAL_BIT
                final_seen = final_seen or bool(word & _FINAL_BIT and not v1)
                pos += 4 + length
                ended = length == 0
            if not ended or pos != footer_at or not final_seen:
                return None
            handle.seek(footer_at)
            return SegmentSummary.from_json(handle.read(footer_len))
    except (OSError, FootageCorrupt):
        return None
