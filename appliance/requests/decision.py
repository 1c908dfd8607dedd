"""The identity check (R-REQ-2), what the footage suggests, and the officer's decision checked
against the rules (R-REQ-4, R-REQ-9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session

from appliance.errors import ValidationFailed
from appliance.models import (
    DestructionRecord,
    FootageRequest,
)
from appliance.requests._stage import Stage
from appliance.requests.kinds import (
    RequesterKind,
    RequestKind,
    RequestState,
)
from appliance.requests.workflow import (
    Action,
    CameraFootage,
    DecisionInput,
    Proposal,
    apply_decision,
    check_decision,
    current_decision,
    identity_text,
    next_state,
    propose_decision,
    refusal_text,
)
from appliance.retention import (
    check_deletion,
    find_destruction,
    segments_in,
)

if TYPE_CHECKING:
    pass

__all__ = ["Decisions"]


class Decisions(Stage):
    """Identity check, proposal and decision."""

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
                data={"identity_check": identity_text(request), "consent_ref": consent_ref},
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
            new_state = next_state(
                RequestState(request.state), Action.decide, current_decision(request)
            )
            apply_decision(
                request,
                decision,
                now_ms=now,
                actor=actor,
                default_officer=self._ctx.settings.site.officer.name,
            )
            refusal = refusal_text(request)
            self._state_entry(
                session,
                request,
                Action.decide,
                new=new_state,
                actor=actor,
                data={
                    "decision": decision.decision.value,
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
