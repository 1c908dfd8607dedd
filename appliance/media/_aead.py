"""AES-256-GCM into a buffer the caller reuses: the segment writer's per-message encryption.

Why not ``nacl.bindings.crypto_aead_aes256gcm_encrypt``: each call allocates and zeroes a fresh
output buffer, then copies it into a new ``bytes``. For the recorder's 128 KiB messages that was
about three quarters of the call (125 us against 34 us per message, measured on the appliance's
CPU; issue 16). This calls the same libsodium function through pynacl's own cffi module and
writes into a ``bytearray`` kept between calls. The output is byte for byte what pynacl returns
(``tests/appliance/media/test_format.py::test_reused_buffer_sealing_matches_pynacl``).
"""

from __future__ import annotations

from typing import Any

from nacl import _sodium
from nacl.bindings import crypto_aead_aes256gcm_ABYTES

__all__ = ["AesGcmSealer"]

_ffi: Any = _sodium.ffi
_lib: Any = _sodium.lib


class AesGcmSealer:
    """Seals messages under one key and associated data; see the module docstring."""

    def __init__(self, key: bytes, aad: bytes) -> None:
        if len(key) != 32:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._key = key
        self._aad = aad
        self._out = bytearray()
        self._out_ptr: Any = None
        self._length = _ffi.new("unsigned long long *")

    def seal(self, plain: bytes | bytearray | memoryview, nonce: bytes) -> memoryview:
        """Ciphertext and tag of ``plain`` (12-byte ``nonce``): a view that is valid until the
        next call."""
        if len(nonce) != 12:
            raise ValueError("AES-256-GCM needs a 12-byte nonce")
        size = len(plain) + crypto_aead_aes256gcm_ABYTES
        if len(self._out) < size:
            self._out_ptr = None  # (cffi's view of the old buffer goes before it grows)
            self._out = bytearray(size + (size >> 3))
            self._out_ptr = _ffi.from_buffer(self._out)
        result = _lib.crypto_aead_aes256gcm_encrypt(
            self._out_ptr, self._length, _ffi.from_buffer(plain), len(plain),
            self._aad, len(self._aad), _ffi.NULL, nonce, self._key,
        )  # fmt: skip
        if result != 0:
            raise RuntimeError("AES-256-GCM encryption failed")
        return memoryview(self._out)[: self._length[0]]

    def forget(self) -> None:
        """Drop the key (the segment is finished)."""
        self._key = b""
