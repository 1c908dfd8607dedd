"""The key registry table (``vault_key``) kept in step with the key dir; rotation and unlock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import AuthenticationFailed, NotFound
from appliance.keys import read_vault_key_record
from appliance.ledger import Ledger
from appliance.models import VaultKey
from appliance.vault._vault import Vault
from appliance.vault.events import record_event

__all__ = ["VaultKeeper", "sync_key_registry"]


def sync_key_registry(session: Session, vault: Vault, now_ms: int) -> list[VaultKey]:
    """Register key files the table lacks and mark every non-current key retired."""
    rows = {row.key_id: row for row in session.exec(select(VaultKey)).all()}
    current = vault.current_key_id()
    for key_id in vault.key_ids():
        if key_id in rows:
            continue
        try:
            created_ms = int(read_vault_key_record(vault.key_dir, key_id)["created_ms"])
        except NotFound:
            created_ms = now_ms
        row = VaultKey(
            key_id=key_id,
            public_hex=vault.public_key(key_id).hex(),
            created_ms=created_ms,
            destroyed_ms=None if vault.has_private_key(key_id) else now_ms,
            destroyed_by="" if vault.has_private_key(key_id) else "found missing",
        )
        session.add(row)
        rows[key_id] = row
    for key_id, row in rows.items():
        retired = None if key_id == current else (row.retired_ms or now_ms)
        if row.retired_ms != retired:
            row.retired_ms = retired
            session.add(row)
    session.flush()
    return sorted(rows.values(), key=lambda r: (r.created_ms, r.key_id))


@dataclass(frozen=True)
class VaultKeeper:
    """Rotates, unlocks and locks one vault, recording each act in the ledger.

    Built from its parts (``AppContext.vault_keeper`` builds the process's one), so the vault
    package depends on the database, the ledger and the clock, never on the context.
    """

    vault: Vault
    db: Database
    ledger: Ledger
    clock: Clock

    def rotate(self, actor: str) -> str:
        """Make a new vault key current; new segments are sealed to it (no passphrase needed).

        The old private key stays until the purge cycle finds no footage sealed to it
        (``appliance.retention.keys.destroy_retired_keys``).
        """
        vault = self.vault
        now = self.clock.now_ms()
        with self.db.session() as session:
            sync_key_registry(session, vault, now)
            old = vault.current_key_id()
            new = vault.create_key(make_current=False)
            session.add(
                VaultKey(key_id=new, public_hex=vault.public_key(new).hex(), created_ms=now)
            )
            record_event(
                self.ledger,
                session,
                "key_rotated",
                actor=actor,
                data={"old_key_id": old, "new_key_id": new, "segments": 0},
            )
        # Recorded first: a crash here leaves a registered key that never became current, which
        # the next sync retires; never a current key the ledger does not know.
        vault.make_current(new)
        with self.db.session() as session:
            sync_key_registry(session, vault, now)
        return new

    def unlock(self, passphrase: str, actor: str) -> None:
        """Unlock the vault and record who did it; AuthenticationFailed on a wrong passphrase
        (recorded as a ``login_failure`` with the reason "wrong vault passphrase")."""
        try:
            self.vault.unlock(passphrase)
        except AuthenticationFailed:
            with self.db.session() as session:
                record_event(
                    self.ledger,
                    session,
                    "login_failure",
                    actor=actor,
                    data={"username": actor, "remote": "vault", "reason": "wrong vault passphrase"},
                )
            raise
        with self.db.session() as session:
            record_event(
                self.ledger,
                session,
                "vault_unlocked",
                actor=actor,
                data={"key_id": self.vault.current_key_id()},
            )

    def lock(self, actor: str, reason: str = "locked by operator") -> None:
        """Lock the vault (viewing stops; recording goes on)."""
        self.vault.lock()
        with self.db.session() as session:
            record_event(
                self.ledger,
                session,
                "vault_locked",
                actor=actor,
                data={"key_id": self.vault.current_key_id(), "reason": reason},
            )
