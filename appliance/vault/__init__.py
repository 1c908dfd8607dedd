"""The vault: key hierarchy, passphrase unlock, rotation (design/keys.md).

Recording uses public keys only (``Vault.current_public_key`` / ``seal_segment_key``);
viewing opens per-segment keys with ``Vault.open_segment_key`` while the vault is unlocked.
One ``Vault`` per process lives on ``AppContext.vault``; ``VaultKeeper`` (on
``AppContext.vault_keeper``) rotates, unlocks and locks it and records each act in the ledger.
The package is built from its parts (key dir, database, ledger, clock), never from the context.
"""

from __future__ import annotations

from appliance.vault._vault import KDF_LIMITS, MIN_PASSPHRASE_CHARS, Vault
from appliance.vault.registry import VaultKeeper, sync_key_registry

__all__ = [
    "KDF_LIMITS",
    "MIN_PASSPHRASE_CHARS",
    "Vault",
    "VaultKeeper",
    "sync_key_registry",
]
