"""The vault: key hierarchy, passphrase unlock, rotation (design/keys.md).

Recording uses public keys only (``Vault.current_public_key`` / ``seal_segment_key``);
viewing opens per-segment keys with ``Vault.open_segment_key`` while the vault is unlocked.
One ``Vault`` per process lives on ``AppContext.vault``.
"""

from __future__ import annotations

from appliance.vault._vault import KDF_LIMITS, MIN_PASSPHRASE_CHARS, Vault
from appliance.vault.registry import lock_vault, rotate_vault_key, sync_key_registry, unlock_vault

__all__ = [
    "KDF_LIMITS",
    "MIN_PASSPHRASE_CHARS",
    "Vault",
    "lock_vault",
    "rotate_vault_key",
    "sync_key_registry",
    "unlock_vault",
]
