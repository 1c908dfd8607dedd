"""Uploaded documents (official letters, ID copies, powers of attorney), stored encrypted.

Each document gets a random key; the bytes are sealed with it (XSalsa20-Poly1305) and the key
is sealed to the vault public key, exactly as a footage segment is. Storing needs only the
public key; reading needs the unlocked vault.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Protocol

import nacl.exceptions
from nacl.secret import SecretBox

from appliance.errors import FootageCorrupt, NotFound
from appliance.media.sealing import SegmentKeyOpener
from appliance.models import RequestDocument

__all__ = ["KeySealer", "open_document", "seal_document"]


class KeySealer(Protocol):
    """What sealing needs from the vault (``Vault.seal_segment_key``: public key only)."""

    def seal_segment_key(self, segment_key: bytes) -> tuple[str, bytes]: ...


def seal_document(sealer: KeySealer, data: bytes) -> tuple[str, bytes, bytes, str]:
    """(vault key id, sealed key, ciphertext, sha256 of the plaintext)."""
    key = secrets.token_bytes(SecretBox.KEY_SIZE)
    key_id, sealed = sealer.seal_segment_key(key)
    return key_id, sealed, bytes(SecretBox(key).encrypt(data)), hashlib.sha256(data).hexdigest()


def open_document(opener: SegmentKeyOpener, document: RequestDocument) -> bytes:
    """The plaintext, in memory; VaultLocked while the vault is locked."""
    if document.sealed_key is None or document.ciphertext is None:
        raise NotFound(f"document {document.id} was destroyed")
    key = opener.open_segment_key(document.vault_key_id, document.sealed_key)
    try:
        data = bytes(SecretBox(key).decrypt(document.ciphertext))
    except nacl.exceptions.CryptoError as exc:
        raise FootageCorrupt(f"document {document.id} failed authentication") from exc
    if hashlib.sha256(data).hexdigest() != document.sha256_hex:
        raise FootageCorrupt(f"document {document.id} does not match its recorded hash")
    return data
