"""``RequestService``: the one front the routes and the CLI call. It checks the principal's
permissions (``appliance.access.roles``) and hands each operation to its stage: ``receipt``,
``decision``, ``notice_issue``, ``copies`` (with ``handover``, the record a recipient signs),
``fulfilment``, ``deadlines``, and the request's hold to ``holds_admin``. One module because it
is the one place permissions are checked, operation by operation (hence its length).

Who may do what: ``manage_requests`` (the officer) runs the workflow; ``read_requests`` (the
officer, the auditor) reads every request; ``agency_api`` (an agency) submits and reads only
its own requests, and anyone else's is NotFound, so ids cannot be probed. The deadline daemon's
operations (``check_deadlines``, ``reseal_documents``) are the system's and take no principal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO

from appliance.access import Permission, Principal
from appliance.errors import PermissionDenied
from appliance.export.jobs import Progress
from appliance.export.options import MaskPlan
from appliance.export.service import ExportResult
from appliance.models import (
    Camera,
    DestructionRecord,
    FootageRequest,
    RequestDocument,
    RequestExport,
    RequestNotice,
)
from appliance.requests.copies import Copies
from appliance.requests.deadlines import DeadlineEntry, DeadlineReport, Deadlines
from appliance.requests.decision import Decisions
from appliance.requests.derived import DerivedCopies, DerivedReport
from appliance.requests.desk import (
    AgencyEvent,
    DeskFilter,
    DeskReads,
    DeskRow,
    DeskSummary,
    HistoryItem,
    sort_rows,
    summarize,
)
from appliance.requests.fulfilment import Fulfilling
from appliance.requests.handover import HandoverRecord, HandoverRecords
from appliance.requests.holds_admin import HoldAdmin
from appliance.requests.kinds import Channel, NewRequest, RequestState, Upload
from appliance.requests.notice_issue import NoticeIssue
from appliance.requests.onsite import OnsiteRoom, RoomCopy
from appliance.requests.receipt import Receipt
from appliance.requests.workflow import CameraFootage, DeadlineStatus, DecisionInput, Proposal
from appliance.retention.holds import HoldView

if TYPE_CHECKING:
    from appliance.context import AppContext
    from appliance.retention import PurgeResult

__all__ = ["RequestService", "need", "reader_scope"]


def need(principal: Principal, permission: Permission) -> None:
    """PermissionDenied unless the principal's role has ``permission``."""
    if not principal.can(permission):
        raise PermissionDenied(f"a {principal.role.value} may not {permission.value}")


def reader_scope(principal: Principal) -> int | None:
    """Whose requests the principal reads: everyone's (None) or, for an agency, its own (its
    user id); PermissionDenied for anyone else."""
    if principal.can(Permission.read_requests):
        return None
    if principal.can(Permission.agency_api):
        return principal.user_id
    raise PermissionDenied(f"a {principal.role.value} may not read requests")


class RequestService:
    """Requests from receipt to closure (design/requests.md)."""

    def __init__(self, ctx: AppContext) -> None:
        self._receipt = Receipt(ctx)
        self._decisions = Decisions(ctx)
        self._notices = NoticeIssue(ctx)
        self._copies = Copies(ctx)
        self._fulfilment = Fulfilling(ctx)
        self._deadlines = Deadlines(ctx)
        self._derived = DerivedCopies(ctx)
        self._holds = HoldAdmin(ctx)
        self._desk = DeskReads(ctx)
        self._zone = ctx.settings.zone
        self._onsite = OnsiteRoom(ctx)
        self._handover = HandoverRecords(ctx)

    # -- receipt and documents -----------------------------------------------------------

    def receive(
        self, principal: Principal, new: NewRequest, *, documents: Sequence[Upload] = ()
    ) -> FootageRequest:
        """Record a request, start its 10-day clock and hold its footage (R-RET-3); an
        agency's request is its own (it reads nobody else's)."""
        if principal.can(Permission.manage_requests):
            agency_user_id = None
        else:
            need(principal, Permission.agency_api)
            agency_user_id = principal.user_id
        return self._receipt.receive(
            new, actor=principal.actor, agency_user_id=agency_user_id, documents=documents
        )

    def attach_document(
        self, principal: Principal, request_id: int, upload: Upload
    ) -> RequestDocument:
        """Store one more document, encrypted (an ID copy, a power of attorney ...)."""
        need(principal, Permission.manage_requests)
        return self._receipt.attach_document(request_id, upload, actor=principal.actor)

    def documents(self, principal: Principal, request_id: int) -> list[RequestDocument]:
        need(principal, Permission.manage_requests)
        return self._receipt.documents(request_id)

    def read_document(
        self, principal: Principal, request_id: int, document_id: int
    ) -> tuple[RequestDocument, bytes]:
        """A document's bytes, decrypted in memory (needs the unlocked vault), returned once
        the read is in the ledger (R-SEC-3; LedgerUnavailable otherwise)."""
        need(principal, Permission.manage_requests)
        return self._receipt.read_document(request_id, document_id, actor=principal.actor)

    def reseal_documents(self) -> int:
        """Move document keys, and the vault's copies of export keys, off rotated vault keys
        (the deadline daemon's job)."""
        return self._receipt.reseal_documents() + self._derived.reseal_exports()

    # -- the request's hold -----------------------------------------------------------------

    def hold(self, principal: Principal, request_id: int) -> HoldView:
        """The hold the request placed (officer and auditor)."""
        need(principal, Permission.read_requests)
        return self._holds.hold(request_id)

    def narrow_hold(
        self,
        principal: Principal,
        request_id: int,
        *,
        camera_ids: Sequence[str],
        start_ms: int,
        end_ms: int,
        reason: str,
    ) -> HoldView:
        """Shrink the request's hold to fewer cameras or a shorter range, never more; what
        leaves it follows retention again (ledgered, with the reason)."""
        need(principal, Permission.manage_requests)
        return self._holds.narrow(
            request_id,
            camera_ids=camera_ids,
            start_ms=start_ms,
            end_ms=end_ms,
            reason=reason,
            actor=principal.actor,
        )

    def release_hold(self, principal: Principal, request_id: int, *, reason: str) -> HoldView:
        """Release the request's hold now, open or not (ledgered, with the reason)."""
        need(principal, Permission.manage_requests)
        return self._holds.release(request_id, reason=reason, actor=principal.actor)

    # -- identity, proposal, decision ----------------------------------------------------

    def verify_identity(
        self,
        principal: Principal,
        request_id: int,
        *,
        id_document: str,
        checked_by: str,
        note: str = "",
        consent_ref: str = "",
    ) -> FootageRequest:
        """Record how identity and authority were checked (R-REQ-2)."""
        need(principal, Permission.manage_requests)
        return self._decisions.verify_identity(
            request_id,
            id_document=id_document,
            checked_by=checked_by,
            note=note,
            consent_ref=consent_ref,
            actor=principal.actor,
        )

    def footage(self, principal: Principal, request_id: int) -> list[CameraFootage]:
        need(principal, Permission.manage_requests)
        return self._decisions.footage(request_id)

    def propose(self, principal: Principal, request_id: int) -> Proposal:
        """The decision the footage suggests (e.g. refusal citing the destruction records)."""
        need(principal, Permission.manage_requests)
        return self._decisions.propose(request_id)

    def decide(
        self, principal: Principal, request_id: int, decision: DecisionInput
    ) -> FootageRequest:
        """Record the officer's decision after checking it against the rules."""
        need(principal, Permission.manage_requests)
        return self._decisions.decide(request_id, decision, actor=principal.actor)

    # -- notices ---------------------------------------------------------------------------

    def preview_notice(self, principal: Principal, request_id: int) -> str:
        need(principal, Permission.manage_requests)
        return self._notices.preview_notice(request_id)

    def notify(self, principal: Principal, request_id: int, *, channel: Channel) -> RequestNotice:
        need(principal, Permission.manage_requests)
        return self._notices.notify(request_id, channel=channel, actor=principal.actor)

    def notices(self, principal: Principal, request_id: int) -> list[RequestNotice]:
        return self._notices.notices(request_id, agency_user_id=reader_scope(principal))

    def notice(self, principal: Principal, request_id: int, notice_id: int) -> RequestNotice:
        return self._notices.notice(request_id, notice_id, agency_user_id=reader_scope(principal))

    # -- copies ----------------------------------------------------------------------------

    def create_export(
        self,
        principal: Principal,
        request_id: int,
        *,
        plan: MaskPlan,
        passphrase: str | None = None,
        plans: dict[str, MaskPlan] | None = None,
        progress: Progress | None = None,
    ) -> ExportResult:
        """A masked, signed, encrypted package of the approved scope (R-REQ-5)."""
        need(principal, Permission.manage_requests)
        return self._copies.create_export(
            request_id,
            plan=plan,
            actor=principal.actor,
            passphrase=passphrase,
            plans=plans,
            progress=progress,
        )

    def exports(self, principal: Principal, request_id: int) -> list[RequestExport]:
        return self._copies.exports(request_id, agency_user_id=reader_scope(principal))

    def hand_over(
        self, principal: Principal, request_id: int, export_id: str, *, recipient: str, form: str
    ) -> FootageRequest:
        need(principal, Permission.manage_requests)
        return self._copies.hand_over(
            request_id, export_id, recipient=recipient, form=form, actor=principal.actor
        )

    def handover_record(
        self, principal: Principal, request_id: int, export_id: str | None, *, via: str
    ) -> HandoverRecord:
        """The one-page record of a copy for the recipient to sign (issue 20), from the
        verified package; its reading is in the ledger first. Officer only."""
        need(principal, Permission.manage_requests)
        return self._handover.record(request_id, export_id, actor=principal.actor, via=via)

    def download_export(
        self, principal: Principal, request_id: int, export_id: str
    ) -> tuple[RequestExport, BinaryIO]:
        """An agency downloads its own approved package (a provision, before the first byte);
        the package comes open, to be streamed."""
        need(principal, Permission.agency_api)
        return self._copies.download_export(
            request_id, export_id, agency_user_id=principal.user_id, actor=principal.actor
        )

    # -- fulfilment and closure ----------------------------------------------------------

    def record_onsite_viewing(
        self,
        principal: Principal,
        request_id: int,
        *,
        officer_present: str,
        witness: str = "",
        export_id: str | None = None,
        place: str = "",
        note: str = "",
    ) -> FootageRequest:
        """Recorded with the masked copy shown (``export_id``): the ledger's masking column
        says what that copy had applied (``appliance.requests.onsite``)."""
        need(principal, Permission.manage_requests)
        return self._fulfilment.record_onsite_viewing(
            request_id,
            officer_present=officer_present,
            witness=witness,
            export_id=export_id,
            place=place,
            note=note,
            actor=principal.actor,
        )

    def room_copies(self, principal: Principal, request_id: int) -> list[RequestExport]:
        """The masked copies the viewing room may show (not destroyed; newest first)."""
        need(principal, Permission.manage_requests)
        return self._onsite.copies(request_id)

    def play_room_copy(
        self, principal: Principal, request_id: int, export_id: str, index: int
    ) -> RoomCopy:
        """Video ``index`` of a masked copy, decrypted in memory, once its on-site viewing is
        in the ledger."""
        need(principal, Permission.manage_requests)
        return self._onsite.play(request_id, export_id, index)

    def execute_deletion(self, principal: Principal, request_id: int) -> PurgeResult:
        need(principal, Permission.manage_requests)
        return self._fulfilment.execute_deletion(request_id, actor=principal.actor)

    def answer_existence(self, principal: Principal, request_id: int) -> FootageRequest:
        need(principal, Permission.manage_requests)
        return self._fulfilment.answer_existence(request_id, actor=principal.actor)

    def record_fee(
        self, principal: Principal, request_id: int, fee_krw: int, note: str
    ) -> FootageRequest:
        need(principal, Permission.manage_requests)
        return self._fulfilment.record_fee(request_id, fee_krw, note, actor=principal.actor)

    def close(
        self, principal: Principal, request_id: int, *, note: str = "", withdrawn: bool = False
    ) -> FootageRequest:
        need(principal, Permission.manage_requests)
        return self._fulfilment.close(
            request_id, actor=principal.actor, note=note, withdrawn=withdrawn
        )

    # -- reading and deadlines -------------------------------------------------------------

    def get(self, principal: Principal, request_id: int) -> FootageRequest:
        return self._deadlines.get(request_id, agency_user_id=reader_scope(principal))

    def list_requests(
        self, principal: Principal, *, state: RequestState | None = None, open_only: bool = False
    ) -> list[FootageRequest]:
        return self._deadlines.list_requests(
            state=state, open_only=open_only, agency_user_id=reader_scope(principal)
        )

    def deadline(self, request: FootageRequest) -> tuple[DeadlineStatus, int | None]:
        """(status, deadline) of a request already read."""
        return self._deadlines.deadline(request)

    def deadlines(self, principal: Principal) -> DeadlineReport:
        need(principal, Permission.read_requests)
        return self._deadlines.deadlines()

    def metrics(self, principal: Principal) -> dict[str, int]:
        need(principal, Permission.read_requests)
        return self._deadlines.metrics()

    def check_deadlines(self) -> DeadlineReport:
        """Raise and clear the deadline alarms (the deadline daemon's job)."""
        return self._deadlines.check_deadlines()

    def destroy_expired_copies(self) -> DerivedReport:
        """Destroy export packages and documents past their keep days (the deadline daemon's
        job; actor "system")."""
        return self._derived.destroy_expired()

    # -- the officer's desk (design/web.md, "The request desk") ----------------------------

    def desk(self, principal: Principal, wanted: DeskFilter | None = None) -> list[DeskRow]:
        """Requests for the desk's list: running clocks first, soonest deadline first, with
        the days left in the site's calendar days; filtered."""
        need(principal, Permission.read_requests)
        wanted = wanted or DeskFilter()
        report = self._deadlines.deadlines()
        entries = list(report.entries)
        if wanted.closed:
            closed = self._deadlines.list_requests(state=RequestState.closed)
            entries += [DeadlineEntry(r, *self._deadlines.deadline(r)) for r in closed]
        rows = self._desk.rows(entries)
        return sort_rows([r for r in rows if wanted.matches(r.request, self._zone)])

    def desk_row(self, request: FootageRequest) -> DeskRow:
        """The desk's view of a request already read."""
        (row,) = self._desk.rows([DeadlineEntry(request, *self._deadlines.deadline(request))])
        return row

    def desk_summary(self, principal: Principal) -> DeskSummary:
        """Open requests, those due within the week, overdue, and new agency requests."""
        need(principal, Permission.read_requests)
        return summarize(self._desk.rows(self._deadlines.deadlines().entries))

    def history(self, principal: Principal, request_id: int) -> list[HistoryItem]:
        """The request's ledger entries (its own, its hold's, its exports'), in seq order."""
        need(principal, Permission.read_requests)
        return self._desk.history(request_id)

    def destruction_records(
        self, principal: Principal, record_ids: Sequence[int]
    ) -> list[DestructionRecord]:
        """Destruction records a proposal or decision cites (the request page names them)."""
        need(principal, Permission.read_requests)
        return self._desk.destruction(record_ids)

    # -- what an agency does with its own requests -----------------------------------------

    def agency_events(
        self, principal: Principal, request_id: int, *, since_seq: int = 0
    ) -> list[AgencyEvent]:
        """Status changes of the agency's own request after ledger seq ``since_seq``."""
        need(principal, Permission.agency_api)
        return self._desk.agency_events(request_id, principal.user_id, since_seq)

    def agency_cameras(self, principal: Principal) -> list[Camera]:
        """The cameras an agency may name in a request (names and locations, no streams)."""
        need(principal, Permission.agency_api)
        return self._desk.cameras()

    def withdraw_own(self, principal: Principal, request_id: int, *, note: str) -> FootageRequest:
        """An agency withdraws its own request (the hold follows the grace period)."""
        need(principal, Permission.agency_api)
        return self._fulfilment.close(
            request_id,
            actor=principal.actor,
            note=note,
            withdrawn=True,
            agency_user_id=principal.user_id,
        )

    def attach_own_document(
        self, principal: Principal, request_id: int, upload: Upload
    ) -> RequestDocument:
        """An agency adds a document (a corrected letter ...) to its own open request."""
        need(principal, Permission.agency_api)
        return self._receipt.attach_document(
            request_id, upload, actor=principal.actor, agency_user_id=principal.user_id
        )
