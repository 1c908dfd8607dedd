"""A writer of segment format version 1 (XChaCha20-Poly1305 secretstream, BLAKE2b digest).

The appliance no longer writes version 1 but must read what it recorded before; this is the
version 1 writer as it shipped, kept for the tests that read such files.
"""

from __future__ import annotations

import hashlib
import os

from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
)

from appliance.media.format import (
    _MSG_SAMPLES,
    _MSG_TRAILER,
    _RECORD,
    _U32,
    END_MAGIC,
    MAGIC,
    Sample,
    SegmentHead,
    SegmentSummary,
    _encode_head,
)

V1_HEADER = MAGIC + bytes([1, 0, 0, 0])


class SegmentWriterV1:
    def __init__(self, fd: int, key: bytes, head: SegmentHead, *, chunk_bytes: int) -> None:
        self._fd = fd
        self._hash = hashlib.blake2b(digest_size=32)
        self._size = 0
        self._chunk_bytes = chunk_bytes
        self._records: list[bytes] = []
        self._payloads: list[bytes] = []
        self._pending = 0
        self._state = crypto_secretstream_xchacha20poly1305_state()
        self._write(V1_HEADER + crypto_secretstream_xchacha20poly1305_init_push(self._state, key))
        self._push(_encode_head(head), ad=V1_HEADER)

    def _write(self, data: bytes) -> None:
        os.write(self._fd, data)
        self._hash.update(data)
        self._size += len(data)

    def _push(
        self,
        plain: bytes,
        *,
        ad: bytes | None = None,
        tag: int = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
    ) -> None:
        cipher = crypto_secretstream_xchacha20poly1305_push(self._state, plain, ad, tag)
        self._write(_U32.pack(len(cipher)))
        self._write(cipher)

    def add(self, sample: Sample) -> None:
        self._records.append(
            _RECORD.pack(
                sample.stream_index,
                int(sample.is_key),
                len(sample.data),
                sample.pts,
                sample.dts,
                sample.duration,
            )
        )
        self._payloads.append(sample.data)
        self._pending += len(sample.data) + _RECORD.size
        if self._pending >= self._chunk_bytes:
            self.flush()

    def flush(self) -> None:
        if self._records:
            count = _U32.pack(len(self._records))
            self._push(b"".join([bytes([_MSG_SAMPLES]), count, *self._records, *self._payloads]))
            self._records, self._payloads, self._pending = [], [], 0

    def finish(self, summary: SegmentSummary) -> tuple[int, str]:
        self.flush()
        summary_json = summary.to_json()
        self._push(
            bytes([_MSG_TRAILER]) + summary_json,
            tag=crypto_secretstream_xchacha20poly1305_TAG_FINAL,
        )
        self._write(_U32.pack(0) + summary_json + _U32.pack(len(summary_json)) + END_MAGIC)
        return self._size, f"blake2b:{self._hash.hexdigest()}"
