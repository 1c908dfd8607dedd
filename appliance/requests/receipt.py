"""Receipt: a request is recorded with its hold, its documents (encrypted) and its
``request_received`` ledger entry, in one transaction; an agency's request is first bounded
(``limits``). Documents are attached, read and re-sealed here; attaching and reading each
leave a ledger entry (``document_attached``, ``document_read``: R-SEC-3), and a document is not
returned unless its entry was written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from appliance.errors import Conflict, NotFound, ValidationFailed
from appliance.ledger import EventType
from appliance.models import (
    Camera,
    FootageRequest,
    RequestDocument,
)
from appliance.requests._stage import Stage, ref
from appliance.requests.documents import open_document, seal_document
from appliance.requests.kinds import (
    NewRequest,
    RequestKind,
    RequestState,
    Upload,
)
from appliance.requests.limits import admit_agency_request
from appliance.requests.notices import NOTICE_LANGUAGES
from appliance.requests.workflow import (
    check_receipt,
    check_upload,
    counterpart,
    deadline_ms,
)
from appliance.retention import (
    place_hold,
)

if TYPE_CHECKING:
    pass

__all__ = ["Receipt"]


class Receipt(Stage):
    """Receive requests and keep their documents."""

    def receive(
        self,
        new: NewRequest,
        *,
        actor: str,
        agency_user_id: int | None = None,
        documents: Sequence[Upload] = (),
    ) -> FootageRequest:
        """Record a request, start its 10-day clock and hold its footage (R-RET-3)."""
        now = self._now()
        received = new.received_ms if new.received_ms is not None else now
        cameras = tuple(dict.fromkeys(new.camera_ids))
        check_receipt(new, received_ms=received, now_ms=now, by_agency=agency_user_id is not None)
        if new.requester_language not in NOTICE_LANGUAGES:
            raise ValidationFailed(
                f"notices are printed in {' or '.join(NOTICE_LANGUAGES)}, "
                f"not {new.requester_language!r}"
            )
        for upload in documents:
            check_upload(upload, self._config.max_document_bytes)
        with self._ctx.db.session() as session:
            known = set(session.exec(select(Camera.id).where(col(Camera.id).in_(cameras))).all())
            if missing := [c for c in cameras if c not in known]:
                raise NotFound(f"unknown camera(s): {', '.join(missing)}")
            if agency_user_id is not None:
                admit_agency_request(
                    session,
                    new,
                    agency_user_id=agency_user_id,
                    now_ms=now,
                    groups=self._ctx.settings.groups,
                    config=self._config,
                )
            request = FootageRequest(
                kind=new.kind.value,
                state=RequestState.received.value,
                channel=new.channel.value,
                requester_kind=new.requester_kind.value,
                requester_name=new.requester_name.strip(),
                requester_org=new.requester_org,
                requester_contact=new.requester_contact,
                requester_language=new.requester_language,
                agency_user_id=agency_user_id,
                subject_description=new.subject_description,
                purpose=new.purpose,
                legal_basis=new.legal_basis,
                letter_reference=new.letter_reference,
                camera_ids=list(cameras),
                start_ms=new.start_ms,
                end_ms=new.end_ms,
                received_ms=received,
                received_by=actor,
                due_ms=deadline_ms(received, self._ctx.settings.zone, self._config.notice_days),
                created_ms=now,
                updated_ms=now,
            )
            session.add(request)
            session.flush()
            assert request.id is not None
            stored = [self._document(request.id, upload, actor) for upload in documents]
            session.add_all(stored)
            hold = place_hold(
                self._ctx,
                session,
                camera_ids=cameras,
                start_ms=new.start_ms,
                end_ms=new.end_ms,
                reason=f"열람등 요청 #{request.id} ({RequestKind(new.kind).label})",
                reference=f"request:{request.id}",
                placed_by=actor,
            )
            request.hold_id = hold.hold.id
            session.add(request)
            session.flush()
            self._ctx.ledger.append(
                EventType.request_received,
                actor=actor,
                data={
                    "requester": counterpart(request),
                    "requester_kind": request.requester_kind,
                    "request_kind": request.kind,
                    "requester_language": request.requester_language,
                    "identity_check": "",
                    "received_ms": received,
                    "due_ms": request.due_ms,
                    "purpose": request.purpose,
                    "cameras": list(cameras),
                    "from_ms": request.start_ms,
                    "to_ms": request.end_ms,
                    "legal_basis": request.legal_basis,
                    "channel": request.channel,
                    "letter_reference": request.letter_reference,
                    "hold_id": request.hold_id,
                    "documents": len(documents),
                },
                ref=ref(request),
                session=session,
            )
            for document in stored:
                self._document_entry(EventType.document_attached, document, actor, session=session)
            return request

    def _document(self, request_id: int, upload: Upload, actor: str) -> RequestDocument:
        key_id, sealed, ciphertext, digest = seal_document(self._ctx.vault, upload.data)
        return RequestDocument(
            request_id=request_id,
            kind=upload.kind.value,
            filename=upload.filename.strip(),
            content_type=upload.content_type[:100] or "application/octet-stream",
            size_bytes=len(upload.data),
            sha256_hex=digest,
            vault_key_id=key_id,
            sealed_key=sealed,
            ciphertext=ciphertext,
            uploaded_ms=self._now(),
            uploaded_by=actor,
        )

    def attach_document(
        self,
        request_id: int,
        upload: Upload,
        *,
        actor: str,
        agency_user_id: int | None = None,
    ) -> RequestDocument:
        """Store one more document, encrypted (an ID copy, a power of attorney ...)."""
        check_upload(upload, self._config.max_document_bytes)
        with self._ctx.db.session() as session:
            request = self._load(session, request_id, agency_user_id)
            if request.state == RequestState.closed.value:
                raise Conflict("the request is closed")
            document = self._document(request_id, upload, actor)
            session.add(document)
            session.flush()
            self._document_entry(EventType.document_attached, document, actor, session=session)
            return document

    def _document_entry(
        self,
        event: EventType,
        document: RequestDocument,
        actor: str,
        *,
        session: Session | None = None,
    ) -> None:
        self._ctx.ledger.append(
            event,
            actor=actor,
            data={
                "request_id": document.request_id,
                "document_id": document.id,
                "kind": document.kind,
                "filename": document.filename,
                "size_bytes": document.size_bytes,
                "sha256": document.sha256_hex,
            },
            ref=str(document.request_id),
            session=session,
        )

    def documents(
        self, request_id: int, *, agency_user_id: int | None = None
    ) -> list[RequestDocument]:
        return self._rows(
            request_id,
            agency_user_id,
            select(RequestDocument)
            .where(RequestDocument.request_id == request_id)
            .order_by(col(RequestDocument.id)),
        )

    def read_document(
        self, request_id: int, document_id: int, *, actor: str
    ) -> tuple[RequestDocument, bytes]:
        """A document's bytes, decrypted in memory (needs the unlocked vault); returned only
        once its ``document_read`` entry is durable (LedgerUnavailable otherwise)."""
        with self._ctx.db.session() as session:
            document = session.get(RequestDocument, document_id)
            if document is None or document.request_id != request_id:
                raise NotFound(f"no document {document_id} on request {request_id}")
        data = open_document(self._ctx.vault, document)
        self._document_entry(EventType.document_read, document, actor)
        return document, data

    def reseal_documents(self) -> int:
        """Re-seal document keys sealed to a vault key that is no longer current, so a rotated
        key can be destroyed without losing them. Needs the unlocked vault; returns the count.
        """
        vault = self._ctx.vault
        current = vault.current_key_id()
        if not vault.is_unlocked:
            return 0
        count = 0
        with self._ctx.db.session() as session:
            stale = session.exec(
                select(RequestDocument).where(
                    RequestDocument.vault_key_id != current,
                    col(RequestDocument.sealed_key).is_not(None),
                )
            ).all()
            for document in stale:
                assert document.sealed_key is not None
                key = vault.open_segment_key(document.vault_key_id, document.sealed_key)
                document.vault_key_id, document.sealed_key = vault.seal_segment_key(key)
                session.add(document)
                count += 1
        return count
