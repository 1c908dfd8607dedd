"""Fulfilment and closure: on-site viewing (R-REQ-6), deletion (R-REQ-7), the existence
answer, the fee (R-REQ-8), and closure with the hold's grace period. Copies: ``copies``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.errors import Conflict, ValidationFailed
from appliance.ledger import EventType
from appliance.models import (
    FootageRequest,
)
from appliance.requests._stage import Stage, clear_request_alarms, ref
from appliance.requests.kinds import (
    Decision,
    Fulfilment,
    RequestKind,
    RequestState,
)
from appliance.requests.onsite import OnsiteRoom, masking_applied
from appliance.requests.workflow import (
    DAY_MS,
    Action,
    approved_scope,
    counterpart,
    next_state,
)
from appliance.retention import (
    check_deletion,
    delete_footage,
    get_hold,
    release_hold,
    set_hold_expiry,
)

if TYPE_CHECKING:
    from appliance.retention import PurgeResult

__all__ = ["Fulfilling"]


class Fulfilling(Stage):
    """On-site viewing, deletion, existence answer, fee and closure."""

    def record_onsite_viewing(
        self,
        request_id: int,
        *,
        officer_present: str,
        witness: str = "",
        export_id: str | None = None,
        place: str = "",
        note: str = "",
        actor: str,
    ) -> FootageRequest:
        """The requester viewed the footage on premises with the officer present (R-REQ-6).

        ``export_id`` names the masked copy shown (``appliance.requests.onsite``); the ledger's
        ``masking`` is read from it, never claimed. Without a copy the footage was shown as
        recorded: only with a note saying why nothing needed masking (e.g. nobody else is in
        it), and ``masking`` is false.
        """
        if not officer_present.strip():
            raise ValidationFailed("an on-site viewing needs the officer present (R-REQ-6)")
        if export_id is None and not note.strip():
            raise ValidationFailed(
                "others in the footage are shown masked only (R-REQ-5): show the masked copy "
                "(export_id), or say in a note why nothing needed masking"
            )
        now = self._now()
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            if request.kind != RequestKind.viewing.value:
                raise Conflict(f"request {request_id} asks for {request.kind}, not viewing")
            masked = False
            if export_id is not None:
                masked = masking_applied(
                    OnsiteRoom(self._ctx).room_copy(session, request, export_id)
                )
            cameras, lo, hi = approved_scope(request)
            request.officer_present = officer_present.strip()
            request.witness = witness.strip()
            self._fulfil(
                session,
                request,
                Fulfilment.onsite_viewing,
                now=now,
                actor=actor,
                data={"officer_present": request.officer_present, "export_id": export_id},
            )
            self._ctx.ledger.append(
                EventType.onsite_viewing,
                actor=actor,
                data={
                    "requester": counterpart(request),
                    "purpose": request.purpose or "정보주체 열람 요청",
                    "cameras": cameras,
                    "from_ms": lo,
                    "to_ms": hi,
                    "officer": request.officer_present,
                    "witness": request.witness,
                    "place": place.strip()
                    or request.viewing_place
                    or self._ctx.settings.site.viewing_place,
                    "masking": masked,
                    "export_id": export_id,
                    "note": note,
                },
                ref=ref(request),
                session=session,
            )
            return request

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
            cameras, lo, hi = approved_scope(request)
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
        self,
        request_id: int,
        *,
        actor: str,
        note: str = "",
        withdrawn: bool = False,
        agency_user_id: int | None = None,
    ) -> FootageRequest:
        """Close the request; its hold is released after ``requests.hold_grace_days``. With
        ``agency_user_id``, only that agency's own request (its withdrawal)."""
        now = self._now()
        with self._ctx.db.session() as session:
            request = self._load(session, request_id, agency_user_id)
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
            clear_request_alarms(session, request, now)
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
