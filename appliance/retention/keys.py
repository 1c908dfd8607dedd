"""Destroying rotated-out vault private keys once no footage needs them (design/keys.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from appliance.models import DestructionRecord, RequestDocument, RequestExport, Segment
from appliance.retention.destruction import Method, Reason
from appliance.vault.events import record_event
from appliance.vault.registry import sync_key_registry

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["destroy_retired_keys"]


def destroy_retired_keys(ctx: AppContext, actor: str) -> list[str]:
    """Destroy each retired key past its grace with no segment key sealed to it; return ids.

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
                    note="no footage sealed to this key remained",
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


def _still_sealed_to(session: Session, key_id: str) -> bool:
    """Whether anything still needs this key: a segment's key, a request document's key or
    the vault's copy of an export package key
    (documents are re-sealed to the current key by the requests service while unlocked)."""
    for table in (Segment, RequestDocument, RequestExport):
        found = session.exec(
            select(table.id)
            .where(table.vault_key_id == key_id, col(table.sealed_key).is_not(None))
            .limit(1)
        ).first()
        if found is not None:
            return True
    return False
