"""The backup archive file: encrypted to the backup key, signed by the appliance's signing key.

Layout (design/backup.md, "The archive"):

    b"CCTVBAK1\\n"
    u32 big-endian length, then the header: canonical JSON, in clear, holding no secret
    records: u32 length + one libsodium secretstream (XChaCha20-Poly1305) message of the
             payload (a tar stream, 1 MiB per message, the last one tagged FINAL); u32 0 ends
    64 bytes: ed25519 signature over b"clinic-cctv-backup/1\\n" + BLAKE2b-512(all bytes above)

The stream key is random per archive and sealed (X25519 sealed box) to the backup public key,
so writing a backup needs no secret; the matching private key is derived from the backup
passphrase with argon2id (``backup_key``) only at restore. The secretstream authenticates
every message and its order, and the FINAL tag catches a truncated stream; the signature
binds the header (head, schema, the signer) to the ciphertext. Nothing is decrypted before
the signature has been checked. The payload never touches the disk in clear: it is written
and read as a stream.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import nacl.bindings as sodium
import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from appliance.errors import ApplianceError, AuthenticationFailed, ValidationFailed

__all__ = [
    "FORMAT",
    "MAGIC",
    "ArchiveDamaged",
    "ArchiveHeader",
    "file_digest",
    "open_payload",
    "read_header",
    "verify_signature",
    "write_archive",
]

MAGIC = b"CCTVBAK1\n"
FORMAT = "clinic-cctv-backup/1"
_CHUNK = 1 << 20
_MAX_HEADER = 1 << 20
_SIG_BYTES = 64
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


class ArchiveDamaged(ApplianceError):
    """The archive was changed, truncated or signed by another key: refused, nothing restored."""


@dataclass(frozen=True)
class ArchiveHeader:
    """The clear header: what the archive is, whose key opens it, who signed it."""

    data: dict[str, Any]
    raw: bytes

    @property
    def verify_key(self) -> bytes:
        return bytes.fromhex(str(self.data["signer"]["verify_key_hex"]))

    @property
    def backup_key(self) -> dict[str, Any]:
        value: dict[str, Any] = self.data["backup_key"]
        return value


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _signed_message(digest: bytes) -> bytes:
    return FORMAT.encode() + b"\n" + digest


class _EncryptingWriter(io.RawIOBase):
    """A write-only file: bytes in, secretstream records out (and into the running hash)."""

    def __init__(self, out: io.RawIOBase | BinaryIO, key: bytes, hasher: Any) -> None:
        self._out = out
        self._hasher = hasher
        self._buffer = bytearray()
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        self.stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, key
        )

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = bytes(data)
        self._buffer += view
        while len(self._buffer) > _CHUNK:
            self._push(bytes(self._buffer[:_CHUNK]), _TAG_MESSAGE)
            del self._buffer[:_CHUNK]
        return len(view)

    def _emit(self, raw: bytes) -> None:
        self._out.write(raw)
        self._hasher.update(raw)

    def _push(self, chunk: bytes, tag: int) -> None:
        message = sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, None, tag)
        self._emit(struct.pack(">I", len(message)) + message)

    def finish(self) -> None:
        self._push(bytes(self._buffer), _TAG_FINAL)
        self._buffer.clear()
        self._emit(struct.pack(">I", 0))


class _DecryptingReader(io.RawIOBase):
    """A read-only file over the records: each message authenticated before it is returned."""

    def __init__(self, src: BinaryIO, key: bytes, stream_header: bytes) -> None:
        self._src = src
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, stream_header, key)
        self._pending = b""
        self._final = False

    def readable(self) -> bool:
        return True

    def _next(self) -> bytes:
        (length,) = struct.unpack(">I", _read_exact(self._src, 4))
        if length == 0:
            if not self._final:
                raise ArchiveDamaged("the backup archive is truncated (no final message)")
            return b""
        if self._final:
            raise ArchiveDamaged("the backup archive has data after its final message")
        try:
            chunk, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, _read_exact(self._src, length), None
            )
        except nacl.exceptions.CryptoError as exc:
            raise ArchiveDamaged("the backup archive's content fails authentication") from exc
        self._final = tag == _TAG_FINAL
        return bytes(chunk)

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._final:
                # Consume the terminator so a missing one is noticed too.
                self._next()
                return 0
            self._pending = self._next()
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def _read_exact(src: IO[bytes], count: int) -> bytes:
    data = src.read(count)
    if data is None or len(data) != count:
        raise ArchiveDamaged("the backup archive is truncated")
    return data


def write_archive(
    path: Path,
    header: dict[str, Any],
    backup_public: bytes,
    signing_key: SigningKey,
    members: Iterator[tuple[str, bytes]],
) -> str:
    """Write ``members`` (archive name, bytes) as an archive at ``path``; return its BLAKE2b.

    Written to a temp name, fsynced, renamed, the directory fsynced: a crash leaves no
    half archive under the final name.
    """
    stream_key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    sealed = SealedBox(PublicKey(backup_public)).encrypt(stream_key)
    verify = bytes(signing_key.verify_key)
    tmp = path.with_name(f".{path.name}.tmp")
    hasher = hashlib.blake2b(digest_size=64)
    with tmp.open("xb") as out:
        # The stream header goes into the clear header, so the writer is made first and
        # pointed at the file once the header is out.
        writer_out = _Deferred()
        writer = _EncryptingWriter(writer_out, stream_key, hasher)
        full = {
            **header,
            "format": FORMAT,
            "sealed_stream_key_hex": sealed.hex(),
            "stream_header_hex": bytes(writer.stream_header).hex(),
            "signer": {
                "key_id": verify.hex()[:16],
                "verify_key_hex": verify.hex(),
            },
        }
        raw = _canonical(full)
        lead = MAGIC + struct.pack(">I", len(raw)) + raw
        out.write(lead)
        hasher.update(lead)
        writer_out.target = out
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o600
                tar.addfile(info, io.BytesIO(data))
        writer.finish()
        out.write(signing_key.sign(_signed_message(hasher.digest())).signature)
        out.flush()
        os.fsync(out.fileno())
    tmp.rename(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return file_digest(path)


def file_digest(path: Path) -> str:
    """BLAKE2b-256 of a file, hex (what the ``backup_taken`` entry records)."""
    hasher = hashlib.blake2b(digest_size=32)
    with path.open("rb") as src:
        while block := src.read(_CHUNK):
            hasher.update(block)
    return hasher.hexdigest()


class _Deferred(io.RawIOBase):
    """Forwards writes to ``target`` once it is set (the writer exists before the header)."""

    target: BinaryIO | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        assert self.target is not None
        return self.target.write(bytes(data))


def read_header(path: Path) -> ArchiveHeader:
    """The clear header of the archive at ``path``; ValidationFailed if it is not one."""
    with path.open("rb") as src:
        if src.read(len(MAGIC)) != MAGIC:
            raise ValidationFailed(f"{path} is not an appliance backup archive")
        (length,) = struct.unpack(">I", _read_exact(src, 4))
        if length > _MAX_HEADER:
            raise ValidationFailed(f"{path}: the archive header is too long")
        raw = _read_exact(src, length)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ArchiveDamaged(f"{path}: the archive header is not JSON") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationFailed(f"{path}: not a {FORMAT} archive")
    return ArchiveHeader(data, raw)


def verify_signature(path: Path, verify_key: bytes) -> None:
    """Check the signature over the whole file with ``verify_key``; ArchiveDamaged if not."""
    size = path.stat().st_size
    if size < len(MAGIC) + 4 + _SIG_BYTES:
        raise ArchiveDamaged(f"{path} is truncated")
    hasher = hashlib.blake2b(digest_size=64)
    with path.open("rb") as src:
        left = size - _SIG_BYTES
        while left:
            block = src.read(min(left, _CHUNK))
            if not block:
                raise ArchiveDamaged(f"{path} is truncated")
            hasher.update(block)
            left -= len(block)
        signature = src.read(_SIG_BYTES)
    try:
        VerifyKey(verify_key).verify(_signed_message(hasher.digest()), signature)
    except nacl.exceptions.BadSignatureError as exc:
        raise ArchiveDamaged(
            f"{path}: the signature does not verify: the archive was changed or truncated"
        ) from exc


@contextmanager
def open_payload(
    path: Path, header: ArchiveHeader, backup_private: PrivateKey
) -> Iterator[tarfile.TarFile]:
    """The payload as a streaming tar (call ``verify_signature`` first)."""
    try:
        stream_key = SealedBox(backup_private).decrypt(
            bytes.fromhex(str(header.data["sealed_stream_key_hex"]))
        )
    except nacl.exceptions.CryptoError as exc:
        raise AuthenticationFailed("the backup passphrase does not open this archive") from exc
    with path.open("rb") as src:
        src.seek(len(MAGIC) + 4 + len(header.raw))
        reader = _DecryptingReader(
            src, stream_key, bytes.fromhex(str(header.data["stream_header_hex"]))
        )
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            yield tar
