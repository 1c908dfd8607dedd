"""Retention of export packages: when one is due, and how it is destroyed (design/export.md).

A package is destroyed ``requests.export_keep_days`` after its hand-over or its request's
closure, whichever comes first. Destroying it, in an order that survives a crash (as the
purge does, design/retention.md):

1. one transaction: the vault's copy of the content key is nulled, the row marked destroyed,
   a destruction record written and the ``export_destroyed`` ledger entry appended (last).
   This commit is the point of no return: nobody at the clinic can open the package after it.
2. the file is overwritten, fsynced and unlinked, and its directory fsynced
   (``shred_file``).

A crash between 1 and 2 leaves a destroyed row with its file: ``finish_destroyed`` (run by
the deadline daemon on every pass, and by ``fsck --repair``) completes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import col, select

from appliance.export.shred import shred_file
from appliance.ledger import EventType
from appliance.models import DestructionRecord, RequestExport

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["DAY_MS", "destroy_export", "export_expiry_ms", "finish_destroyed", "package_path"]

DAY_MS = 86_400_000


def export_expiry_ms(
    *, handed_over_ms: int | None, closed_ms: int | None, keep_days: int
) -> int | None:
    """When a package is destroyed: ``keep_days`` after its hand-over or its request's closure,
    whichever comes first; None while neither happened (the request may still need it)."""
    starts = [ms for ms in (handed_over_ms, closed_ms) if ms is not None]
    return min(starts) + keep_days * DAY_MS if starts else None


def package_path(exports_dir: Path, export: RequestExport) -> Path:
    return exports_dir / export.file


def destroy_export(
    ctx: AppContext, export_id: str, *, method: str, reason: str, actor: str, note: str = ""
) -> int | None:
    """Destroy one package (steps 1 and 2 above); the destruction record's id, or None if the
    export is unknown or already destroyed."""
    now = ctx.clock.now_ms()
    with ctx.db.session() as session:
        export = session.get(RequestExport, export_id, with_for_update=True)
        if export is None or export.destroyed_ms is not None:
            return None
        record = DestructionRecord(
            executed_ms=now,
            # No camera: the footage itself is not destroyed, and a refusal on the ground
            # "already destroyed" (R-REQ-4) must not cite a copy.
            camera_id=None,
            start_ms=export.start_ms,
            end_ms=export.end_ms,
            size_bytes=export.size_bytes,
            segments_digest=export.blake2b_hex,
            method=method,
            reason=reason,
            executed_by=actor,
            note=(
                f"요청 #{export.request_id} 사본 {export.id} ({', '.join(export.camera_ids)})"
                f" {note}"
            ).strip(),
        )
        session.add(record)
        session.flush()
        export.sealed_key = None
        export.destroyed_ms = now
        export.destroyed_by = actor
        export.destruction_id = record.id
        session.add(export)
        session.flush()
        ctx.ledger.append(  # last: the ledger keeps its tip locked until the commit
            EventType.export_destroyed,
            actor=actor,
            data={
                "request_id": export.request_id,
                "file": export.file,
                "blake2b": export.blake2b_hex,
                "size_bytes": export.size_bytes,
                "cameras": list(export.camera_ids),
                "from_ms": export.start_ms,
                "to_ms": export.end_ms,
                "handed_over_ms": export.handed_over_ms,
                "method": method,
                "reason": reason,
                "destruction_id": record.id,
            },
            ref=export.id,
            session=session,
        )
        path = package_path(ctx.settings.exports_dir, export)
        record_id = record.id
    shred_file(path)
    return record_id


def finish_destroyed(ctx: AppContext) -> int:
    """Shred the files of destroyed exports that survived (a crash after the commit)."""
    with ctx.db.session() as session:
        files = session.exec(
            select(RequestExport.file).where(col(RequestExport.destroyed_ms).is_not(None))
        ).all()
    return sum(1 for name in files if shred_file(ctx.settings.exports_dir / name))
