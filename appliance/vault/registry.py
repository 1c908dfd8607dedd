"""The key registry table (``vault_key``) kept in step with the key dir; rotation and unlock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, select

from appliance.errors import AuthenticationFailed, NotFound
from appliance.keys import read_vault_key_record
from appliance.models import VaultKey
from appliance.vault._vault import Vault
from appliance.vault.events import record_event

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["lock_vault", "rotate_vault_key", "sync_key_registry", "unlock_vault"]


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


def rotate_vault_key(ctx: AppContext, actor: str) -> str:
    """Make a new vault key current; new segments are sealed to it (no passphrase needed).

    The old private key stays until the purge cycle finds no footage sealed to it
    (``appliance.retention.keys.destroy_retired_keys``).
    """
    vault = ctx.vault
    now = ctx.clock.now_ms()
    with ctx.db.session() as session:
        sync_key_registry(session, vault, now)
        old = vault.current_key_id()
        new = vault.create_key(make_current=False)
        session.add(VaultKey(key_id=new, public_hex=vault.public_key(new).hex(), created_ms=now))
        record_event(
            ctx,
            session,
            "key_rotated",
            actor=actor,
            data={"old_key_id": old, "new_key_id": new, "segments": 0},
        )
    # Recorded first: a crash here leaves a registered key that never became current, which
    # the next sync retires; never a current key the ledger does not know.
    vault.make_current(new)
    with ctx.db.session() as session:
        sync_key_registry(session, vault, now)
    return new


def unlock_vault(ctx: AppContext, passphrase: str, actor: str) -> None:
    """Unlock ``ctx.vault`` and record who did it; AuthenticationFailed on a wrong passphrase
    (recorded as a ``login_failure`` with the reason "wrong vault passphrase")."""
    try:
        ctx.vault.unlock(passphrase)
    except AuthenticationFailed:
        with ctx.db.session() as session:
            record_event(
                ctx,
                session,
                "login_failure",
                actor=actor,
                data={"username": actor, "remote": "vault", "reason": "wrong vault passphrase"},
            )
        raise
    with ctx.db.session() as session:
        record_event(
            ctx, session, "vault_unlocked", actor=actor, data={"key_id": ctx.vault.current_key_id()}
        )


def lock_vault(ctx: AppContext, actor: str, reason: str = "locked by operator") -> None:
    """Lock ``ctx.vault`` (viewing stops; recording goes on)."""
    ctx.vault.lock()
    with ctx.db.session() as session:
        record_event(
            ctx,
            session,
            "vault_locked",
            actor=actor,
            data={"key_id": ctx.vault.current_key_id(), "reason": reason},
        )
