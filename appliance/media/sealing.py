"""Per-segment keys: made and sealed by the recorder, opened only by the viewing side.

The recorder holds the vault *public* key only (invariant 2): it draws a random 32-byte key per
segment (AES-256-GCM; XChaCha20-Poly1305 without AES hardware) and seals it (libsodium sealed
box, X25519) to that public key. Opening needs the private key, behind the
``SegmentKeyOpener`` protocol that ``appliance.vault.Vault`` implements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.utils import random as random_bytes

from appliance.errors import FootageCorrupt, NotFound, VaultLocked

__all__ = ["PrivateKeyFileOpener", "SegmentKeyOpener", "new_segment_key"]


class SegmentKeyOpener(Protocol):
    """Turns a sealed per-segment key back into the key (needs the vault private key)."""

    def open_segment_key(self, vault_key_id: str, sealed_key: bytes) -> bytes:
        """The 32-byte segment key; VaultLocked if the private key is not available."""
        ...


def new_segment_key(public_key: bytes) -> tuple[bytes, bytes]:
    """(a fresh 32-byte segment key, that key sealed to ``public_key``)."""
    key = random_bytes(32)
    return key, SealedBox(PublicKey(public_key)).encrypt(key)


class PrivateKeyFileOpener:
    """Opens sealed keys with the unprotected private key files ``appliance.keys`` writes.

    For tests and tools; the appliance's viewing side uses ``appliance.vault.Vault``.
    """

    def __init__(self, key_dir: Path) -> None:
        self._key_dir = key_dir
        self._boxes: dict[str, SealedBox[PrivateKey]] = {}

    def _box(self, vault_key_id: str) -> SealedBox[PrivateKey]:
        box = self._boxes.get(vault_key_id)
        if box is None:
            path = self._key_dir / "vault" / f"{vault_key_id}.key"
            try:
                record = json.loads(path.read_text())
            except FileNotFoundError as exc:
                raise NotFound(f"no vault private key {vault_key_id}") from exc
            if record.get("kdf"):
                raise VaultLocked(f"vault key {vault_key_id} is passphrase-protected")
            box = SealedBox(PrivateKey(bytes.fromhex(record["private_hex"])))
            self._boxes[vault_key_id] = box
        return box

    def open_segment_key(self, vault_key_id: str, sealed_key: bytes) -> bytes:
        try:
            return self._box(vault_key_id).decrypt(sealed_key)
        except CryptoError as exc:
            raise FootageCorrupt(f"sealed key does not open with vault key {vault_key_id}") from exc
