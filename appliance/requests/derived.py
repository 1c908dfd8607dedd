"""Retention of what a request leaves behind (issue 12): its export packages and documents.

The deadline daemon calls ``DerivedCopies.destroy_expired`` on every pass:

- an export package goes ``requests.export_keep_days`` after its hand-over or its request's
  closure, whichever comes first (``appliance.export.retention``: the vault's copy of its key
  nulled, the file overwritten and unlinked);
- a document (ID copy, official letter ...) goes ``requests.document_keep_days`` after its
  request closes: its ciphertext and sealed key are nulled in one transaction with its
  destruction record and ``document_destroyed`` ledger entry; the row keeps what it was (kind,
  size, SHA-256) and who destroyed it when. The request row and its ledger entries stay.

An open request keeps everything. Each destruction is its own transaction, so one that fails
(a ledger that cannot be written) leaves the others done and is retried on the next pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, select

from appliance.export.retention import (
    DAY_MS,
    destroy_export,
    export_expiry_ms,
    finish_destroyed,
)
from appliance.ledger import EventType
from appliance.models import DestructionRecord, FootageRequest, RequestDocument, RequestExport
from appliance.requests._stage import Stage
from appliance.retention.destruction import Method, Reason

__all__ = ["DerivedCopies", "DerivedReport", "document_expiry_ms", "export_expiry_ms"]

#: Who destroys on schedule (the deadline daemon of ``appliance run``).
SYSTEM_ACTOR = "system"


def document_expiry_ms(*, closed_ms: int | None, keep_days: int) -> int | None:
    """When a request's documents are destroyed: ``keep_days`` after closure; never while the
    request is open."""
    return None if closed_ms is None else closed_ms + keep_days * DAY_MS


@dataclass
class DerivedReport:
    """What one pass destroyed."""

    exports: list[str] = field(default_factory=list)  # export ids
    documents: list[int] = field(default_factory=list)  # document ids
    finished: int = 0  # files of exports destroyed earlier, shredded now (after a crash)


class DerivedCopies(Stage):
    """Destroys expired exports and documents; keeps export keys on the current vault key."""

    def destroy_expired(self, actor: str = SYSTEM_ACTOR) -> DerivedReport:
        report = DerivedReport(finished=finish_destroyed(self._ctx))
        now = self._now()
        with self._ctx.db.session() as session:
            exports = session.exec(
                select(RequestExport.id, RequestExport.handed_over_ms, FootageRequest.closed_ms)
                .join(FootageRequest, col(FootageRequest.id) == RequestExport.request_id)
                .where(col(RequestExport.destroyed_ms).is_(None))
                .order_by(col(RequestExport.created_ms))
            ).all()
            documents = session.exec(
                select(RequestDocument.id, FootageRequest.closed_ms)
                .join(FootageRequest, col(FootageRequest.id) == RequestDocument.request_id)
                .where(
                    col(RequestDocument.destroyed_ms).is_(None),
                    col(FootageRequest.closed_ms).is_not(None),
                )
                .order_by(col(RequestDocument.id))
            ).all()
        for export_id, handed_over_ms, closed_ms in exports:
            due = export_expiry_ms(
                handed_over_ms=handed_over_ms,
                closed_ms=closed_ms,
                keep_days=self._config.export_keep_days,
            )
            if due is not None and due <= now:
                done = destroy_export(
                    self._ctx,
                    export_id,
                    method=Method.package_shredded.value,
                    reason=Reason.export_retention.value,
                    actor=actor,
                )
                if done is not None:
                    report.exports.append(export_id)
        for document_id, closed in documents:
            assert document_id is not None
            due = document_expiry_ms(closed_ms=closed, keep_days=self._config.document_keep_days)
            if due is not None and due <= now and self._destroy_document(document_id, actor):
                report.documents.append(document_id)
        if report.exports:
            self._ctx.db.mark_remnants(["request_export"])
        if report.documents:
            self._ctx.db.mark_remnants(["request_document"])
        # The nulled keys and contents must not survive in the database files either (the
        # -wal on SQLite, dead tuples on PostgreSQL); a failure is retried on the next pass.
        self._ctx.db.scrub_remnants()
        return report

    def _destroy_document(self, document_id: int, actor: str) -> bool:
        now = self._now()
        with self._ctx.db.session() as session:
            document = session.get(RequestDocument, document_id, with_for_update=True)
            if document is None or document.destroyed_ms is not None:
                return False
            record = DestructionRecord(
                executed_ms=now,
                camera_id=None,
                size_bytes=document.size_bytes,
                segments_digest=document.sha256_hex,
                method=Method.document_shredded.value,
                reason=Reason.document_retention.value,
                executed_by=actor,
                note=f"요청 #{document.request_id} 서류 #{document.id} ({document.kind})",
            )
            session.add(record)
            session.flush()
            document.ciphertext = None
            document.sealed_key = None
            document.destroyed_ms = now
            document.destroyed_by = actor
            document.destruction_id = record.id
            session.add(document)
            session.flush()
            self._ctx.ledger.append(  # last: the ledger keeps its tip locked until the commit
                EventType.document_destroyed,
                actor=actor,
                data={
                    "document_id": document.id,
                    "kind": document.kind,
                    "sha256": document.sha256_hex,
                    "size_bytes": document.size_bytes,
                    "uploaded_ms": document.uploaded_ms,
                    "method": record.method,
                    "reason": record.reason,
                    "destruction_id": record.id,
                },
                ref=str(document.request_id),
                session=session,
            )
        return True

    def reseal_exports(self) -> int:
        """Re-seal the vault's copies of export keys to the current vault key (as documents are
        re-sealed), so a rotated key can be destroyed; needs the unlocked vault."""
        vault = self._ctx.vault
        if not vault.is_unlocked:
            return 0
        current = vault.current_key_id()
        count = 0
        with self._ctx.db.session() as session:
            for export in session.exec(
                select(RequestExport).where(
                    RequestExport.vault_key_id != current,
                    col(RequestExport.sealed_key).is_not(None),
                )
            ).all():
                assert export.sealed_key is not None
                key = vault.open_segment_key(export.vault_key_id, export.sealed_key)
                export.vault_key_id, export.sealed_key = vault.seal_segment_key(key)
                session.add(export)
                count += 1
        return count
