"""The vault public key new segments are sealed to, following rotation.

Re-read (two small files) each time a segment opens, so a rotation takes effect at the next
segment of every camera; if the read fails the last good key is used. Never a private key.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from appliance.errors import ApplianceError
from appliance.keys import load_vault_public_key

__all__ = ["VaultPublicKey"]

log = logging.getLogger(__name__)


class VaultPublicKey:
    def __init__(self, key_dir: Path) -> None:
        self._key_dir = key_dir
        self._lock = threading.Lock()
        self._current = load_vault_public_key(key_dir)  # fails start-up if there is none

    def current(self) -> tuple[str, bytes]:
        """(vault key id, 32-byte X25519 public key)."""
        try:
            found = load_vault_public_key(self._key_dir)
        except (ApplianceError, OSError, ValueError) as exc:
            log.warning("vault public key unreadable (%s); keeping %s", exc, self._current[0])
            return self._current
        with self._lock:
            self._current = found
        return found
