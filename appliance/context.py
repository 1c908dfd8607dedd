"""What every service and command is built from: settings, database, clock.

Constructed once per process by the CLI (or a test fixture) and passed down explicitly;
there are no module-level singletons. The context builds the vault, the ledger and their
keepers from its parts; they take those parts, never the context (tests/test_layering.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from appliance.clock import Clock, SystemClock
from appliance.db import Database
from appliance.ledger import Ledger
from appliance.settings import Settings
from appliance.vault import Vault, VaultKeeper

if TYPE_CHECKING:
    from appliance.storage import SegmentFiles
    from appliance.viewing.live import LiveHub

__all__ = ["AppContext"]


@dataclass
class AppContext:
    """The appliance's wiring for one process."""

    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> AppContext:
        """Open the database and bring its schema up to date (migrations run on start)."""
        db = Database(settings.database_url)
        db.migrate()
        return cls(settings=settings, db=db, clock=clock or SystemClock())

    @cached_property
    def vault(self) -> Vault:
        """The process's one vault, so an unlock is seen by every service (design/keys.md)."""
        return Vault(self.settings.storage.key_dir, self.clock, self.settings.vault.kdf_strength)

    @cached_property
    def vault_keeper(self) -> VaultKeeper:
        """Rotates, unlocks and locks ``vault``, recording each act in ``ledger``."""
        return VaultKeeper(self.vault, self.db, self.ledger, self.clock)

    @cached_property
    def ledger(self) -> Ledger:
        """The tamper-evident ledger on this context's database (design/ledger.md)."""
        return Ledger.open(self.settings, self.db, self.clock)

    @cached_property
    def live(self) -> LiveHub:
        """Where the recorder in this process offers its live feeds to the viewer (live view)."""
        from appliance.viewing.live import LiveHub

        return LiveHub()

    @cached_property
    def segment_files(self) -> SegmentFiles:
        """Where segment ciphertext is: the local dir, and the object store if configured."""
        from appliance.storage import open_segment_files

        return open_segment_files(self.settings)

    def close(self) -> None:
        self.db.dispose()
