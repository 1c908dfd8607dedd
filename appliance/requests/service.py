"""The request workflow's transactions: each change, its hold, its notice and its ledger entry
commit together (the ledger entry last, so a ledger that cannot be written rolls it all back).

Routes and the CLI call ``RequestService``; the rules live in ``workflow`` (pure functions).
Agencies see only their own requests: every read takes ``agency_user_id`` and answers
NotFound for anyone else's, so ids cannot be probed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from appliance.errors import Conflict, NotFound, ValidationFailed
from appliance.export.masking import MaskPlan
from appliance.export.package import fingerprint
from appliance.export.service import ExportResult, discard_package, make_export
from appliance.keys import load_verify_key
from appliance.ledger import EventType
from appliance.models import (
    Alarm,
    Camera,
    DestructionRecord,
    FootageRequest,
    RequestDocument,
    RequestExport,
    RequestNotice,
)
from appliance.requests.documents import open_document, seal_document
from appliance.requests.kinds import (
    AGENCY_KINDS,
    Channel,
    Decision,
    DocumentKind,
    Fulfilment,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestState,
)
from appliance.requests.notices import notice_context, render_notice
from appliance.requests.workflow import (
    DAY_MS,
    Action,
    CameraFootage,
    DeadlineStatus,
    DecisionInput,
    Proposal,
    check_decision,
    deadline_ms,
    deadline_status,
    next_state,
    propose_decision,
)
from appliance.retention import (
    check_deletion,
    delete_footage,
    find_destruction,
    get_hold,
    place_hold,
    raise_alarm,
    release_hold,
    segments_in,
    set_hold_expiry,
)
from appliance.settings import Disclosure

if TYPE_CHECKING:
    from appliance.context import AppContext
    from appliance.retention import PurgeResult

__all__ = [
    "ALARM_DUE_SOON",
    "ALARM_OVERDUE",
    "DeadlineEntry",
    "DeadlineReport",
    "NewRequest",
    "RequestService",
    "Upload",
]

log = logging.getLogger(__name__)
_Row = TypeVar("_Row")

ALARM_OVERDUE = "request_overdue"
ALARM_DUE_SOON = "request_due_soon"


@dataclass(frozen=True)
class Upload:
    """A document as received (kept encrypted)."""

    kind: DocumentKind
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class NewRequest:
    """A request as received at the desk, by mail, or through the agency API."""

    kind: RequestKind
    requester_kind: RequesterKind
    requester_name: str
    camera_ids: tuple[str, ...]
    start_ms: int
    end_ms: int
    requester_org: str = ""
    requester_contact: str = ""
    subject_description: str = ""
    purpose: str = ""
    legal_basis: str = ""
    letter_reference: str = ""
    channel: Channel = Channel.in_person
    received_ms: int | None = None  # default: now (a letter may be entered after its arrival)


@dataclass(frozen=True)
class DeadlineEntry:
    request: FootageRequest
    status: DeadlineStatus
    deadline_ms: int | None


@dataclass
class DeadlineReport:
    """Open requests by deadline status (``overdue`` raises alarms)."""

    now_ms: int
    entries: list[DeadlineEntry] = field(default_factory=list)

    def with_status(self, status: DeadlineStatus) -> list[DeadlineEntry]:
        return [e for e in self.entries if e.status is status]

    @property
    def overdue(self) -> list[DeadlineEntry]:
        return self.with_status(DeadlineStatus.overdue)

    @property
    def due_soon(self) -> list[DeadlineEntry]:
        return self.with_status(DeadlineStatus.due_soon)


def _ref(request: FootageRequest) -> str:
    return str(request.id)


def _identity_text(request: FootageRequest) -> str:
    if not request.id_document:
        return ""
    return f"{request.id_document} (확인자 {request.id_checked_by})"


class RequestService:
    """Requests from receipt to closure (design/requests.md)."""

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx
        self._config = ctx.settings.requests

    # -- helpers ---------------------------------------------------------------------------

    def _now(self) -> int:
        return self._ctx.clock.now_ms()

    def _load(
        self, session: Session, request_id: int, agency_user_id: int | None = None
    ) -> FootageRequest:
        request = session.get(FootageRequest, request_id)
        if request is None or (
            agency_user_id is not None and request.agency_user_id != agency_user_id
        ):
            raise NotFound(f"no request {request_id}")
        return request

    def _rows(
        self, request_id: int, agency_user_id: int | None, query: SelectOfScalar[_Row]
    ) -> list[_Row]:
        """``query``'s rows, once the request is found (and is the agency's, if one asks)."""
        with self._ctx.db.session() as session:
            self._load(session, request_id, agency_user_id)
            return list(session.exec(query).all())

    def _state_entry(
        self,
        session: Session,
        request: FootageRequest,
        action: Action,
        *,
        actor: str,
        data: dict[str, Any],
        new: RequestState | None = None,
    ) -> None:
        """Move the state machine (to ``new`` if the caller checked the move before changing
        the row), save, and append the ledger entry (last)."""
        if new is None:
            new = next_state(RequestState(request.state), action, _decision(request))
        request.state = new.value
        self._save(
            session, request, actor=actor, data={"state": new.value, "action": action.value, **data}
        )

    def _save(
        self, session: Session, request: FootageRequest, *, actor: str, data: dict[str, Any]
    ) -> None:
        """Save a changed request and append its ``request_state`` ledger entry (last)."""
        request.updated_ms = self._now()
        session.add(request)
        session.flush()
        self._ctx.ledger.append(
            EventType.request_state, actor=actor, data=data, ref=_ref(request), session=session
        )

    def _fulfil(
        self,
        session: Session,
        request: FootageRequest,
        fulfilment: Fulfilment,
        *,
        now: int,
        actor: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Record how the request was fulfilled and move it to ``fulfilled``."""
        request.fulfilment = fulfilment.value
        request.fulfilled_ms = now
        self._state_entry(
            session,
            request,
            Action.fulfil,
            actor=actor,
            data={"fulfilment": request.fulfilment, **(data or {})},
        )

    def _restricted_cameras(self, session: Session, camera_ids: Sequence[str]) -> list[str]:
        """Operating-room cameras among ``camera_ids`` (R-REQ-9); an unknown group counts as
        restricted, so a removed configuration never widens disclosure."""
        settings = self._ctx.settings
        groups = {g.name: g for g in settings.groups}
        restricted = []
        for camera_id in camera_ids:
            row = session.get(Camera, camera_id)
            group = groups.get(row.group_name) if row is not None else None
            if group is None or group.disclosure is Disclosure.operating_room:
                restricted.append(camera_id)
        return restricted

    def _camera_names(self, session: Session) -> dict[str, str]:
        return {c.id: c.name for c in session.exec(select(Camera)).all()}

    # -- receipt ---------------------------------------------------------------------------

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
        if not new.requester_name.strip():
            raise ValidationFailed("a request needs the requester's name")
        if not cameras:
            raise ValidationFailed("a request names at least one camera")
        if new.end_ms <= new.start_ms:
            raise ValidationFailed("the footage range ends before it starts")
        if received > now:
            raise ValidationFailed("a request cannot be received in the future")
        if new.end_ms > received:
            raise ValidationFailed("the footage range ends after the request was received")
        if new.requester_kind in AGENCY_KINDS and not new.letter_reference.strip():
            raise ValidationFailed(
                "police, agencies and courts ask by official letter: give its reference (R-REQ-1)"
            )
        if agency_user_id is not None and new.requester_kind not in AGENCY_KINDS:
            raise ValidationFailed(
                "an agency account submits as police, agency, court or mediation"
            )
        for upload in documents:
            self._check_upload(upload)
        with self._ctx.db.session() as session:
            known = set(session.exec(select(Camera.id).where(col(Camera.id).in_(cameras))).all())
            if missing := [c for c in cameras if c not in known]:
                raise NotFound(f"unknown camera(s): {', '.join(missing)}")
            request = FootageRequest(
                kind=new.kind.value,
                state=RequestState.received.value,
                channel=new.channel.value,
                requester_kind=new.requester_kind.value,
                requester_name=new.requester_name.strip(),
                requester_org=new.requester_org,
                requester_contact=new.requester_contact,
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
            for upload in documents:
                session.add(self._document(request.id, upload, actor))
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
                    "requester": _counterpart(request),
                    "requester_kind": request.requester_kind,
                    "request_kind": request.kind,
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
                ref=_ref(request),
                session=session,
            )
            return request

    def _check_upload(self, upload: Upload) -> None:
        if not upload.data:
            raise ValidationFailed("the uploaded document is empty")
        if len(upload.data) > self._config.max_document_bytes:
            raise ValidationFailed(
                f"documents are limited to {self._config.max_document_bytes} bytes"
            )
        if not upload.filename.strip() or len(upload.filename) > 200:
            raise ValidationFailed("a document needs a file name of 1-200 characters")

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
        self._check_upload(upload)
        with self._ctx.db.session() as session:
            request = self._load(session, request_id, agency_user_id)
            if request.state == RequestState.closed.value:
                raise Conflict("the request is closed")
            document = self._document(request_id, upload, actor)
            session.add(document)
            session.flush()
            return document

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

    def read_document(self, request_id: int, document_id: int) -> tuple[RequestDocument, bytes]:
        """A document's bytes, decrypted in memory (needs the unlocked vault)."""
        with self._ctx.db.session() as session:
            document = session.get(RequestDocument, document_id)
            if document is None or document.request_id != request_id:
                raise NotFound(f"no document {document_id} on request {request_id}")
        return document, open_document(self._ctx.vault, document)

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

    # -- identity, proposal, decision --------------------------------------------------------

    def verify_identity(
        self,
        request_id: int,
        *,
        id_document: str,
        checked_by: str,
        note: str = "",
        consent_ref: str = "",
        actor: str,
    ) -> FootageRequest:
        """Record how identity and authority were checked (R-REQ-2)."""
        if not id_document.strip() or not checked_by.strip():
            raise ValidationFailed("name the document checked and who checked it (R-REQ-2)")
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            request.id_document = id_document.strip()
            request.id_checked_by = checked_by.strip()
            request.id_checked_ms = self._now()
            request.id_note = note
            request.consent_ref = consent_ref
            self._state_entry(
                session,
                request,
                Action.verify_identity,
                actor=actor,
                data={"identity_check": _identity_text(request), "consent_ref": consent_ref},
            )
            return request

    def footage(self, request_id: int) -> list[CameraFootage]:
        """What is stored, destroyed or protected of each requested camera."""
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            return self._footage(session, request)

    def _footage(self, session: Session, request: FootageRequest) -> list[CameraFootage]:
        spans = segments_in(session, request.camera_ids, request.start_ms, request.end_ms)
        counts: dict[str, int] = {}
        for span in spans:
            counts[span.camera_id] = counts.get(span.camera_id, 0) + 1
        restricted = set(self._restricted_cameras(session, request.camera_ids))
        under_minimum: set[str] = set()
        if request.kind == RequestKind.deletion.value and spans:
            check = check_deletion(
                self._ctx, session, request.camera_ids, request.start_ms, request.end_ms
            )
            under_minimum = set(check.under_minimum)
        return [
            CameraFootage(
                camera_id=camera_id,
                segments=counts.get(camera_id, 0),
                destruction_refs=tuple(
                    r.id
                    for r in find_destruction(session, camera_id, request.start_ms, request.end_ms)
                    if r.id is not None
                ),
                operating_room=camera_id in restricted,
                under_minimum=camera_id in under_minimum,
            )
            for camera_id in request.camera_ids
        ]

    def propose(self, request_id: int) -> Proposal:
        """The decision the footage suggests (e.g. refusal citing the destruction records)."""
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            return propose_decision(
                RequestKind(request.kind),
                RequesterKind(request.requester_kind),
                self._footage(session, request),
                request.consent_ref,
            )

    def decide(self, request_id: int, decision: DecisionInput, *, actor: str) -> FootageRequest:
        """Record the officer's decision after checking it against the rules."""
        now = self._now()
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            check_decision(
                decision,
                kind=RequestKind(request.kind),
                requester_kind=RequesterKind(request.requester_kind),
                camera_ids=request.camera_ids,
                start_ms=request.start_ms,
                end_ms=request.end_ms,
                operating_room_cameras=self._restricted_cameras(session, request.camera_ids),
                consent_ref=request.consent_ref,
                now_ms=now,
            )
            for record_id in decision.destruction_refs:
                record = session.get(DestructionRecord, record_id)
                if record is None or record.camera_id not in request.camera_ids:
                    raise ValidationFailed(
                        f"destruction record #{record_id} is not about the requested cameras"
                    )
            new_state = next_state(RequestState(request.state), Action.decide, _decision(request))
            d = decision.decision
            approving = d in (Decision.accepted, Decision.partial)
            request.decision = d.value
            request.decision_reason = decision.reason.strip()
            request.refusal_ground = decision.ground.value if decision.ground else None
            request.destruction_refs = list(decision.destruction_refs)
            request.approved_camera_ids = (
                list(decision.approved_camera_ids or request.camera_ids) if approving else []
            )
            request.approved_start_ms = (
                _or(decision.approved_start_ms, request.start_ms) if approving else None
            )
            request.approved_end_ms = (
                _or(decision.approved_end_ms, request.end_ms) if approving else None
            )
            request.viewing_ms = decision.viewing_ms if approving else None
            request.viewing_place = decision.viewing_place if approving else ""
            request.officer = decision.officer or self._ctx.settings.site.officer.name
            request.postponed_until_ms = (
                decision.postponed_until_ms if d is Decision.postponed else None
            )
            if decision.fee_krw:
                request.fee_krw = decision.fee_krw
            request.decided_ms = now
            request.decided_by = actor
            refusal = ""
            if decision.ground is not None:
                refusal = f"{RefusalGround(decision.ground).label}: {request.decision_reason}"
            self._state_entry(
                session,
                request,
                Action.decide,
                new=new_state,
                actor=actor,
                data={
                    "decision": d.value,
                    "refusal_reason": refusal or None,
                    "ground": request.refusal_ground,
                    "destruction_refs": request.destruction_refs or None,
                    "viewing_ms": request.viewing_ms,
                    "viewing_place": request.viewing_place or None,
                    "officer": request.officer,
                    "postponed_until_ms": request.postponed_until_ms,
                    "approved_cameras": request.approved_camera_ids or None,
                    "due_ms": request.due_ms,
                    "fee_krw": request.fee_krw or None,
                },
            )
            return request

    # -- notices -----------------------------------------------------------------------------

    def _notice_html(self, session: Session, request: FootageRequest) -> str:
        settings = self._ctx.settings
        destruction = [
            record
            for record_id in request.destruction_refs
            if (record := session.get(DestructionRecord, record_id)) is not None
        ]
        try:
            signer = fingerprint(load_verify_key(settings.storage.key_dir))
        except NotFound:
            signer = ""
        context = notice_context(
            request,
            settings.site,
            settings.zone,
            now_ms=self._now(),
            camera_names=self._camera_names(session),
            destruction=destruction,
            fingerprint=signer,
        )
        return render_notice(context)

    def preview_notice(self, request_id: int) -> str:
        """The notice of the current decision, not yet sent (printable HTML)."""
        with self._ctx.db.session() as session:
            return self._notice_html(session, self._load(session, request_id))

    def notify(self, request_id: int, *, channel: Channel, actor: str) -> RequestNotice:
        """Render the notice of the current decision and record that it was sent; the first
        notice stops the 10-day clock."""
        now = self._now()
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            if request.decision is None:
                raise Conflict("decide before notifying")
            body = self._notice_html(session, request)
            notice = RequestNotice(
                request_id=request_id,
                kind=request.decision,
                body_html=body,
                created_ms=now,
                created_by=actor,
                sent_ms=now,
                channel=channel.value,
            )
            session.add(notice)
            if request.notified_ms is None:
                request.notified_ms = now
            request.notice_channel = channel.value
            _clear_alarms(session, request, now)
            session.flush()
            self._state_entry(
                session,
                request,
                Action.notify,
                actor=actor,
                data={
                    "decision": request.decision,
                    "notice_ms": now,
                    "notice_channel": channel.value,
                    "notice_id": notice.id,
                    "in_time": now < request.due_ms,
                },
            )
            return notice

    def notices(self, request_id: int, *, agency_user_id: int | None = None) -> list[RequestNotice]:
        return self._rows(
            request_id,
            agency_user_id,
            select(RequestNotice)
            .where(RequestNotice.request_id == request_id)
            .order_by(col(RequestNotice.id)),
        )

    def notice(
        self, request_id: int, notice_id: int, *, agency_user_id: int | None = None
    ) -> RequestNotice:
        with self._ctx.db.session() as session:
            self._load(session, request_id, agency_user_id)
            notice = session.get(RequestNotice, notice_id)
            if notice is None or notice.request_id != request_id:
                raise NotFound(f"no notice {notice_id} on request {request_id}")
            return notice

    # -- fulfilment --------------------------------------------------------------------------

    def _approved_scope(self, request: FootageRequest) -> tuple[list[str], int, int]:
        return (
            list(request.approved_camera_ids or request.camera_ids),
            request.approved_start_ms
            if request.approved_start_ms is not None
            else request.start_ms,
            request.approved_end_ms if request.approved_end_ms is not None else request.end_ms,
        )

    def record_onsite_viewing(
        self,
        request_id: int,
        *,
        officer_present: str,
        witness: str = "",
        masked: bool = True,
        note: str = "",
        actor: str,
    ) -> FootageRequest:
        """The requester viewed the footage on premises with the officer present (R-REQ-6)."""
        if not officer_present.strip():
            raise ValidationFailed("an on-site viewing needs the officer present (R-REQ-6)")
        if not masked and not note.strip():
            raise ValidationFailed(
                "others in the footage are masked when shown (R-REQ-5); say why not in a note"
            )
        now = self._now()
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            if request.kind != RequestKind.viewing.value:
                raise Conflict(f"request {request_id} asks for {request.kind}, not viewing")
            cameras, lo, hi = self._approved_scope(request)
            request.officer_present = officer_present.strip()
            request.witness = witness.strip()
            self._fulfil(
                session,
                request,
                Fulfilment.onsite_viewing,
                now=now,
                actor=actor,
                data={"officer_present": request.officer_present},
            )
            self._ctx.ledger.append(
                EventType.onsite_viewing,
                actor=actor,
                data={
                    "requester": _counterpart(request),
                    "purpose": request.purpose or "정보주체 열람 요청",
                    "cameras": cameras,
                    "from_ms": lo,
                    "to_ms": hi,
                    "officer": request.officer_present,
                    "witness": request.witness,
                    "place": request.viewing_place or self._ctx.settings.site.viewing_place,
                    "masking": masked,
                    "note": note,
                },
                ref=_ref(request),
                session=session,
            )
            return request

    def create_export(
        self,
        request_id: int,
        *,
        plan: MaskPlan,
        actor: str,
        passphrase: str | None = None,
        plans: dict[str, MaskPlan] | None = None,
    ) -> ExportResult:
        """A masked, signed, encrypted package of the approved scope (R-REQ-5)."""
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            if request.kind not in (RequestKind.copy.value, RequestKind.viewing.value):
                raise Conflict(f"request {request_id} asks for {request.kind}: nothing to export")
            if request.decision not in (Decision.accepted.value, Decision.partial.value) or (
                request.state not in (RequestState.decided.value, RequestState.notified.value)
            ):
                raise Conflict("export only what an accepted decision released, before fulfilment")
            cameras, lo, hi = self._approved_scope(request)
            meta = {
                "request": {
                    "id": request.id,
                    "kind": request.kind,
                    "requester_kind": request.requester_kind,
                    "requester": _counterpart(request),
                    "letter_reference": request.letter_reference,
                    "legal_basis": request.legal_basis,
                    "decision": request.decision,
                    "decided_by": request.decided_by,
                },
            }
        result = make_export(
            self._ctx,
            camera_ids=cameras,
            start_ms=lo,
            end_ms=hi,
            plan=plan,
            plans=plans,
            exporter=actor,
            manifest_extra=meta,
            passphrase=passphrase,
        )
        try:
            with self._ctx.db.session() as session:
                request = self._load(session, request_id)
                session.add(
                    RequestExport(
                        id=result.package_id,
                        request_id=request_id,
                        file=result.path.name,
                        size_bytes=result.size_bytes,
                        blake2b_hex=result.blake2b_hex,
                        camera_ids=[i.camera_id for i in result.items],
                        start_ms=lo,
                        end_ms=hi,
                        frames=result.frames,
                        masked_boxes=result.masked_boxes,
                        created_ms=self._now(),
                        created_by=actor,
                    )
                )
                session.flush()
                self._ctx.ledger.append(
                    EventType.export_created,
                    actor=actor,
                    data={
                        "purpose": request.purpose or f"요청 #{request_id} 사본",
                        "cameras": [i.camera_id for i in result.items],
                        "from_ms": lo,
                        "to_ms": hi,
                        "masking": True,
                        "form": "마스킹·서명·암호화 파일",
                        "file": result.path.name,
                        "blake2b": result.blake2b_hex,
                        "request_id": request_id,
                        "recipient": _counterpart(request),
                        "frames": result.frames,
                        "masked_boxes": result.masked_boxes,
                        "no_footage": result.no_footage,
                    },
                    ref=result.package_id,
                    session=session,
                )
        except BaseException:
            discard_package(result.path)  # unrecorded: it must not exist
            raise
        return result

    def exports(self, request_id: int, *, agency_user_id: int | None = None) -> list[RequestExport]:
        return self._rows(
            request_id,
            agency_user_id,
            select(RequestExport)
            .where(RequestExport.request_id == request_id)
            .order_by(col(RequestExport.created_ms)),
        )

    def _provide(
        self,
        session: Session,
        request: FootageRequest,
        export: RequestExport,
        *,
        recipient: str,
        form: str,
        actor: str,
    ) -> None:
        now = self._now()
        export.downloads += 1
        if export.handed_over_ms is None:
            export.handed_over_ms = now
            export.handed_over_to = recipient
        session.add(export)
        if request.state == RequestState.notified.value:
            self._fulfil(
                session,
                request,
                Fulfilment.copy_handed_over,
                now=now,
                actor=actor,
                data={"export_id": export.id},
            )
        elif request.state != RequestState.fulfilled.value:
            raise Conflict("a copy is handed over after the decision was notified")
        self._ctx.ledger.append(
            EventType.provision,
            actor=actor,
            data={
                "recipient": recipient,
                "purpose": request.purpose,
                "legal_basis": request.legal_basis,
                "form": form,
                "cameras": list(export.camera_ids),
                "from_ms": export.start_ms,
                "to_ms": export.end_ms,
                "masking": True,
                "officer": request.officer,
                "export_id": export.id,
                "blake2b": export.blake2b_hex,
                "request_id": request.id,
            },
            ref=_ref(request),
            session=session,
        )

    def _export(self, session: Session, request_id: int, export_id: str) -> RequestExport:
        export = session.get(RequestExport, export_id)
        if export is None or export.request_id != request_id:
            raise NotFound(f"no export {export_id} on request {request_id}")
        return export

    def hand_over(
        self, request_id: int, export_id: str, *, recipient: str, form: str, actor: str
    ) -> FootageRequest:
        """The copy was handed over in person (on media); recorded as a provision."""
        if not recipient.strip() or not form.strip():
            raise ValidationFailed("name the recipient and the form (e.g. USB 메모리)")
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            export = self._export(session, request_id, export_id)
            self._provide(session, request, export, recipient=recipient, form=form, actor=actor)
            return request

    def download_export(
        self, request_id: int, export_id: str, *, agency_user_id: int, actor: str
    ) -> tuple[RequestExport, bytes]:
        """An agency downloads its approved package; the provision is in the ledger before the
        first byte is read (invariant 5)."""
        with self._ctx.db.session() as session:
            request = self._load(session, request_id, agency_user_id)
            export = self._export(session, request_id, export_id)
            self._provide(
                session,
                request,
                export,
                recipient=_counterpart(request),
                form="기관 API 전자 파일 (암호화)",
                actor=actor,
            )
        path = self._ctx.settings.exports_dir / export.file
        try:
            return export, path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"the package of export {export_id} is gone") from exc

    def execute_deletion(self, request_id: int, *, actor: str) -> PurgeResult:
        """Destroy the approved footage (R-REQ-7) and record it in the destruction ledger."""
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            if request.kind != RequestKind.deletion.value:
                raise Conflict(f"request {request_id} asks for {request.kind}, not deletion")
            next_state(
                RequestState(request.state),
                Action.fulfil,
                Decision(request.decision) if request.decision else None,
            )
            cameras, lo, hi = self._approved_scope(request)
            check = check_deletion(self._ctx, session, cameras, lo, hi)
            others = {h: r for h, r in check.held_by.items() if h != request.hold_id}
            if others or check.under_minimum or check.unknown_group:
                check.held_by = others
                raise Conflict(f"deletion refused: {check.refusal()}")
            if request.hold_id is not None and get_hold(session, request.hold_id).active:
                release_hold(
                    self._ctx,
                    session,
                    request.hold_id,
                    released_by=actor,
                    reason=f"삭제 요청 #{request_id} 이행",
                )
        result = delete_footage(
            self._ctx, cameras, lo, hi, actor=actor, note=f"request {request_id}"
        )
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            self._fulfil(
                session,
                request,
                Fulfilment.deletion_executed,
                now=self._now(),
                actor=actor,
                data={"destruction_ids": result.record_ids, "segments": result.segments},
            )
        return result

    def answer_existence(self, request_id: int, *, actor: str) -> FootageRequest:
        """An existence confirmation is fulfilled by its notice."""
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            if request.kind != RequestKind.existence.value:
                raise Conflict(f"request {request_id} asks for {request.kind}")
            self._fulfil(
                session, request, Fulfilment.existence_answered, now=self._now(), actor=actor
            )
            return request

    def record_fee(self, request_id: int, fee_krw: int, note: str, *, actor: str) -> FootageRequest:
        """The fee charged: actual cost only (R-REQ-8)."""
        if fee_krw < 0:
            raise ValidationFailed("a fee cannot be negative")
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            if request.state == RequestState.closed.value:
                raise Conflict("the request is closed")
            request.fee_krw, request.fee_note = fee_krw, note
            self._save(
                session,
                request,
                actor=actor,
                data={"state": request.state, "fee_krw": fee_krw, "fee_note": note},
            )
            return request

    def close(
        self, request_id: int, *, actor: str, note: str = "", withdrawn: bool = False
    ) -> FootageRequest:
        """Close the request; its hold is released after ``requests.hold_grace_days``."""
        now = self._now()
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            request.closed_ms = now
            request.closed_by = actor
            request.close_note = note
            release_ms: int | None = None
            if request.hold_id is not None and get_hold(session, request.hold_id).active:
                grace = self._config.hold_grace_days * DAY_MS
                if grace == 0:
                    release_hold(
                        self._ctx,
                        session,
                        request.hold_id,
                        released_by=actor,
                        reason=f"요청 #{request_id} 종결",
                    )
                    release_ms = now
                else:
                    release_ms = now + grace
                    set_hold_expiry(
                        self._ctx, session, request.hold_id, expires_ms=release_ms, actor=actor
                    )
            _clear_alarms(session, request, now)
            self._state_entry(
                session,
                request,
                Action.withdraw if withdrawn else Action.close,
                actor=actor,
                data={
                    "decision": "withdrawn" if withdrawn else request.decision,
                    "note": note,
                    "hold_release_ms": release_ms,
                },
            )
            return request

    # -- reading and deadlines -------------------------------------------------------------

    def get(self, request_id: int, *, agency_user_id: int | None = None) -> FootageRequest:
        with self._ctx.db.session() as session:
            return self._load(session, request_id, agency_user_id)

    def list_requests(
        self,
        *,
        state: RequestState | None = None,
        open_only: bool = False,
        agency_user_id: int | None = None,
    ) -> list[FootageRequest]:
        query = select(FootageRequest).order_by(col(FootageRequest.id))
        if state is not None:
            query = query.where(FootageRequest.state == state.value)
        if open_only:
            query = query.where(FootageRequest.state != RequestState.closed.value)
        if agency_user_id is not None:
            query = query.where(FootageRequest.agency_user_id == agency_user_id)
        with self._ctx.db.session() as session:
            return list(session.exec(query).all())

    def deadline(self, request: FootageRequest) -> tuple[DeadlineStatus, int | None]:
        return deadline_status(
            RequestState(request.state),
            Decision(request.decision) if request.decision else None,
            request.due_ms,
            request.notified_ms,
            request.postponed_until_ms,
            self._now(),
            self._config.due_soon_days * DAY_MS,
        )

    def deadlines(self) -> DeadlineReport:
        """Every open request with its deadline status, soonest deadline first."""
        report = DeadlineReport(now_ms=self._now())
        for request in self.list_requests(open_only=True):
            status, deadline = self.deadline(request)
            report.entries.append(DeadlineEntry(request, status, deadline))
        report.entries.sort(key=lambda e: (e.deadline_ms is None, e.deadline_ms or 0))
        return report

    def check_deadlines(self) -> DeadlineReport:
        """Raise an alarm for each overdue or due-soon request; clear the rest's."""
        report = self.deadlines()
        now = report.now_ms
        with self._ctx.db.session() as session:
            for entry in report.entries:
                request = entry.request
                subject = f"request:{request.id}"
                if entry.status is DeadlineStatus.overdue:
                    _clear_alarm(session, ALARM_DUE_SOON, subject, now)
                    raise_alarm(
                        session,
                        ALARM_OVERDUE,
                        f"요청 #{request.id}의 통지 기한이 지났습니다 (R-REQ-3/4)",
                        now,
                        subject=subject,
                    )
                elif entry.status is DeadlineStatus.due_soon:
                    raise_alarm(
                        session,
                        ALARM_DUE_SOON,
                        f"요청 #{request.id}의 통지 기한이 임박했습니다",
                        now,
                        subject=subject,
                    )
                else:
                    _clear_alarms(session, request, now)
        if report.overdue:
            log.warning("%d request(s) overdue", len(report.overdue))
        return report

    def metrics(self) -> dict[str, int]:
        """Counts for dashboards and monitoring."""
        report = self.deadlines()
        counts = {status.value: 0 for status in DeadlineStatus}
        for entry in report.entries:
            counts[entry.status.value] += 1
        counts["open_requests"] = len(report.entries)
        return counts


def _decision(request: FootageRequest) -> Decision | None:
    return Decision(request.decision) if request.decision else None


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _counterpart(request: FootageRequest) -> str:
    if request.requester_org:
        return f"{request.requester_name} ({request.requester_org})"
    return request.requester_name


def _clear_alarm(session: Session, kind: str, subject: str, now: int) -> None:
    # Not retention's clear_alarm: that closes one open alarm, this closes every open one
    # for (kind, subject), should two watchers ever have raised it concurrently.
    for alarm in session.exec(
        select(Alarm).where(
            Alarm.kind == kind, Alarm.subject == subject, col(Alarm.cleared_ms).is_(None)
        )
    ).all():
        alarm.cleared_ms = now
        session.add(alarm)
    session.flush()


def _clear_alarms(session: Session, request: FootageRequest, now: int) -> None:
    for kind in (ALARM_OVERDUE, ALARM_DUE_SOON):
        _clear_alarm(session, kind, f"request:{request.id}", now)
