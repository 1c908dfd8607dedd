"""Vault key upkeep run by the retention daemon: the automatic rotation, destroying rotated-out
private keys once nothing needs them, and the key alarms (design/keys.md)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Table, exists, select
from sqlmodel import Session, SQLModel

from appliance.alarms import AlarmKind, clear_alarm, raise_alarm
from appliance.keys import destroy_replaced_leftovers
from appliance.models import DestructionRecord
from appliance.retention.destruction import Method, Reason
from appliance.vault.events import record_event
from appliance.vault.registry import sync_key_registry

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["destroy_retired_keys", "key_upkeep", "rotate_if_due", "sealed_key_tables"]

log = logging.getLogger(__name__)


def rotate_if_due(ctx: AppContext, actor: str) -> str | None:
    """Rotate when the current key is ``vault.rotate_every_s`` old; return the new key id.

    Needs no passphrase: the new private key is sealed to the keyring's public half.
    """
    now = ctx.clock.now_ms()
    with ctx.db.session() as session:
        rows = sync_key_registry(session, ctx.vault, now)
        current = ctx.vault.current_key_id()
        created_ms = next(r.created_ms for r in rows if r.key_id == current)
    if now - created_ms < ctx.settings.vault.rotate_every_s * 1000:
        return None
    return ctx.vault_keeper.rotate(actor)


def key_upkeep(ctx: AppContext, actor: str) -> str | None:
    """One round of the daemon's key upkeep; never raises. Returns the new key id if rotated.

    Rotates when due (a failure raises ``key_rotation_overdue``, cleared by the next success),
    keeps ``keys_in_clear`` open for as long as the private keys are in clear, and
    destroys what an interrupted key-file replacement left behind.
    """
    now = ctx.clock.now_ms()
    rotated: str | None = None
    failure = ""
    try:
        destroy_replaced_leftovers(ctx.settings.storage.key_dir)
        rotated = rotate_if_due(ctx, actor)
    except Exception as exc:
        log.exception("vault key rotation failed")
        failure = f"the vault key could not be rotated: {exc}"
    try:
        with ctx.db.session() as session:
            if failure:
                raise_alarm(session, AlarmKind.key_rotation_overdue, failure, now)
            else:
                clear_alarm(session, AlarmKind.key_rotation_overdue, now)
            if ctx.vault.has_passphrase:
                clear_alarm(session, AlarmKind.keys_in_clear, now)
            else:
                raise_keys_in_clear_alarm(session, now)
    except Exception:
        log.exception("could not record the vault key alarms")
    return rotated


def raise_keys_in_clear_alarm(session: Session, now_ms: int) -> None:
    """The permanent alarm of an installation whose private keys are in clear at rest."""
    raise_alarm(
        session,
        AlarmKind.keys_in_clear,
        "the vault has no passphrase: its private keys are in clear in the key dir, so a "
        "stolen box reveals all footage; set one with `appliance vault set-passphrase`",
        now_ms,
    )


def destroy_retired_keys(ctx: AppContext, actor: str) -> list[str]:
    """Destroy each retired key past its grace with nothing sealed to it; return ids.

    Recorded first (registry, destruction record, ledger, one transaction), then the file is
    overwritten and unlinked: a crash in between leaves a key marked destroyed whose file the
    next cycle removes; a key file is never gone without its record.
    """
    vault = ctx.vault
    now = ctx.clock.now_ms()
    grace_ms = ctx.settings.retention.retired_key_grace_s * 1000
    destroyed: list[str] = []
    with ctx.db.session() as session:
        rows = sync_key_registry(session, vault, now)
        current = vault.current_key_id()
        for row in rows:
            if (
                row.key_id == current
                or row.destroyed_ms is not None
                or row.retired_ms is None
                or row.retired_ms + grace_ms > now
            ):
                continue
            if _still_sealed_to(session, row.key_id):
                continue
            row.destroyed_ms, row.destroyed_by = now, actor
            session.add(row)
            session.add(
                DestructionRecord(
                    executed_ms=now,
                    method=Method.key_destroyed.value,
                    reason=Reason.key_rotation.value,
                    executed_by=actor,
                    vault_key_id=row.key_id,
                    note="nothing sealed to this key remained",
                )
            )
            destroyed.append(row.key_id)
        session.flush()
        for key_id in destroyed:
            record_event(
                ctx.ledger,
                session,
                "key_destroyed",
                actor=actor,
                data={"key_id": key_id, "reason": Reason.key_rotation.value},
            )
        leftovers = [
            r.key_id
            for r in rows
            if r.destroyed_ms is not None
            and r.key_id != current
            and vault.has_private_key(r.key_id)
        ]
    for key_id in {*destroyed, *leftovers}:
        vault.destroy_private_key(key_id)
    return destroyed


def sealed_key_tables() -> list[Table]:
    """Every table that stores a key sealed to a vault key with that key's id (segments,
    pending segments, request documents, export key copies ...): found from the schema, so a
    new one holds its key back without a change here."""
    return [
        table
        for table in SQLModel.metadata.sorted_tables
        if "vault_key_id" in table.c and "sealed_key" in table.c
    ]


def _still_sealed_to(session: Session, key_id: str) -> bool:
    """Whether any row still holds a key sealed to ``key_id`` (documents and export copies are
    re-sealed to the current key by the requests service while the vault is unlocked)."""
    for table in sealed_key_tables():
        query = select(
            exists().where(table.c.vault_key_id == key_id, table.c.sealed_key.is_not(None))
        )
        if session.execute(query).scalar():
            return True
    return False
