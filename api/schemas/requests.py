"""Bodies and responses of the footage-request routes (``api.routes.requests``, the officer's)
and the agency API (``api.routes.agency``). Responses are read from the rows
(``from_attributes``); a request's deadline status is added by ``RequestOut.of``.

One module because the staff and agency APIs speak about the same request, notice, document
and export: the agency's bodies are narrowed views of the officer's, and keeping both here keeps
them from drifting apart (hence its length)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from api.deps import CameraField
from appliance.export.options import MaskingOptions, MaskMethod, MaskPlan
from appliance.export.regions import NormRect, Region
from appliance.models import FootageRequest
from appliance.requests import (
    Channel,
    DeadlineStatus,
    Decision,
    DocumentKind,
    RefusalGround,
    RequesterKind,
    RequestKind,
    RequestState,
)
from appliance.retention.holds import HoldView
from appliance.settings import ID_PATTERN

__all__ = [
    "MAX_MS",
    "AgencyCameraOut",
    "AgencyEventOut",
    "AgencyRequestOut",
    "AgencyWithdrawIn",
    "CloseIn",
    "DeadlinesOut",
    "DecisionIn",
    "DeletionOut",
    "DocumentOut",
    "ExportIn",
    "ExportJobOut",
    "ExportOut",
    "ExportQueued",
    "FeeIn",
    "HandoverIn",
    "HoldNarrowIn",
    "HoldOut",
    "HoldReleaseIn",
    "IdentityIn",
    "NoticeIn",
    "NoticeOut",
    "OnsiteViewingIn",
    "ProposalOut",
    "RegionIn",
    "RequestIn",
    "RequestOut",
    "StaffRequestIn",
]

#: 2100-01-01 UTC: times beyond it are typing errors (and would not format on a notice).
MAX_MS = 4_102_444_800_000


class RequestIn(BaseModel):
    kind: RequestKind
    requester_kind: RequesterKind
    requester_name: str = Field(min_length=1, max_length=200)
    requester_org: str = Field(default="", max_length=200)
    requester_contact: str = Field(default="", max_length=300)
    requester_language: Literal["ko", "en"] = Field(
        default="ko", description="The language the notices are printed in."
    )
    subject_description: str = Field(
        default="", max_length=1000, description="Whose images, and how to recognise them."
    )
    purpose: str = Field(default="", max_length=1000)
    legal_basis: str = Field(default="", max_length=300)
    letter_reference: str = Field(
        default="", max_length=200, description="Official letter number (agencies, R-REQ-1)."
    )
    camera_ids: list[CameraField] = Field(min_length=1, max_length=64)
    start_ms: int = Field(ge=0, le=MAX_MS)
    end_ms: int = Field(ge=0, le=MAX_MS)


class StaffRequestIn(RequestIn):
    channel: Channel = Channel.in_person
    received_ms: int | None = Field(
        default=None, ge=0, le=MAX_MS, description="When it arrived (default: now)."
    )


class _Deadlined:
    """A request row with its deadline status, read as attributes by ``model_validate``."""

    def __init__(
        self, request: FootageRequest, status: DeadlineStatus, deadline_ms: int | None
    ) -> None:
        self._request = request
        self.deadline_status = status
        self.deadline_ms = deadline_ms

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


class _FromRequest(BaseModel):
    """A view of a request row; ``of`` adds the deadline that applies now."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, request: FootageRequest, deadline: tuple[DeadlineStatus, int | None]) -> Self:
        return cls.model_validate(_Deadlined(request, *deadline))


class RequestOut(_FromRequest):
    """The officer's view of a request."""

    id: int
    kind: RequestKind
    state: RequestState
    channel: Channel
    requester_kind: RequesterKind
    requester_name: str
    requester_org: str
    requester_contact: str
    requester_language: str
    subject_description: str
    purpose: str
    legal_basis: str
    letter_reference: str
    camera_ids: list[str]
    start_ms: int
    end_ms: int
    received_ms: int
    received_by: str
    due_ms: int = Field(description="The notice is due before this moment (10 days, R-REQ-3).")
    deadline_status: DeadlineStatus
    deadline_ms: int | None
    hold_id: int | None
    id_document: str
    id_checked_by: str
    id_checked_ms: int | None
    decision: Decision | None
    decision_reason: str
    refusal_ground: RefusalGround | None
    destruction_refs: list[int]
    approved_camera_ids: list[str]
    approved_start_ms: int | None
    approved_end_ms: int | None
    viewing_ms: int | None
    viewing_place: str
    officer: str
    postponed_until_ms: int | None
    notified_ms: int | None
    notice_channel: str
    fulfilment: str | None
    fulfilled_ms: int | None
    officer_present: str
    fee_krw: int
    closed_ms: int | None


class AgencyRequestOut(_FromRequest):
    """What an agency sees of its own request."""

    id: int
    kind: RequestKind
    state: RequestState
    requester_kind: RequesterKind
    requester_name: str
    requester_org: str
    letter_reference: str
    camera_ids: list[str]
    start_ms: int
    end_ms: int
    received_ms: int
    due_ms: int
    deadline_status: DeadlineStatus
    decision: Decision | None
    decision_reason: str
    refusal_ground: RefusalGround | None
    approved_camera_ids: list[str]
    approved_start_ms: int | None
    approved_end_ms: int | None
    notified_ms: int | None
    fulfilment: str | None
    closed_ms: int | None


class IdentityIn(BaseModel):
    id_document: str = Field(min_length=1, max_length=200, description="e.g. 주민등록증, 공문.")
    checked_by: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=500)
    consent_ref: str = Field(
        default="", max_length=300, description="Every data subject's consent (R-REQ-9)."
    )


class DecisionIn(BaseModel):
    decision: Decision
    reason: str = Field(default="", max_length=2000)
    ground: RefusalGround | None = None
    viewing_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    viewing_place: str = Field(default="", max_length=300)
    officer: str = Field(default="", max_length=200)
    postponed_until_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    approved_camera_ids: list[CameraField] = Field(default_factory=list, max_length=64)
    approved_start_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    approved_end_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    destruction_refs: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(
        default_factory=list, max_length=1000
    )
    fee_krw: int = Field(default=0, ge=0, le=10**9)


class ProposalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    decision: Decision
    ground: RefusalGround | None
    reason: str
    approved_camera_ids: list[str]
    destruction_refs: list[int]
    notes: list[str]


class NoticeIn(BaseModel):
    channel: Channel


class NoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int
    kind: Decision
    sent_ms: int
    channel: Channel
    created_by: str


class OnsiteViewingIn(BaseModel):
    officer_present: str = Field(min_length=1, max_length=200)
    witness: str = Field(default="", max_length=200)
    export_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The masked copy shown; the ledger's masking is read from it (R-REQ-5).",
    )
    place: str = Field(default="", max_length=300)
    note: str = Field(default="", max_length=500)


class RegionIn(BaseModel):
    """A rectangle in normalised coordinates (0..1), optionally for one camera and a time."""

    x: float = Field(ge=0, lt=1)
    y: float = Field(ge=0, lt=1)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)
    camera_id: str | None = Field(default=None, pattern=ID_PATTERN)
    start_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    end_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    label: str = Field(default="", max_length=200)

    def region(self) -> Region:
        return Region(
            NormRect(self.x, self.y, self.w, self.h), self.start_ms, self.end_ms, self.label
        )


class ExportIn(BaseModel):
    passphrase: str | None = Field(
        default=None,
        min_length=12,
        max_length=200,
        description="Transport passphrase; if absent one is generated and shown once.",
    )
    regions: list[RegionIn] = Field(
        default_factory=list, max_length=100, description="Extra areas to mask."
    )
    exemptions: list[RegionIn] = Field(
        default_factory=list, max_length=20, description="The data subject's area, shown as is."
    )
    faces: bool = True
    people: bool = True
    method: MaskMethod = MaskMethod.pixelate

    def plans(self, camera_ids: list[str]) -> tuple[MaskPlan, dict[str, MaskPlan]]:
        options = MaskingOptions(faces=self.faces, people=self.people, method=self.method)

        def plan_for(camera_id: str | None) -> MaskPlan:
            return MaskPlan(
                officer_regions=tuple(
                    r.region() for r in self.regions if r.camera_id in (None, camera_id)
                ),
                exemptions=tuple(
                    r.region() for r in self.exemptions if r.camera_id in (None, camera_id)
                ),
                options=options,
            )

        return plan_for(None), {c: plan_for(c) for c in camera_ids}


class ExportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    request_id: int
    camera_ids: list[str]
    start_ms: int
    end_ms: int
    size_bytes: int
    blake2b_hex: str
    frames: int
    masked_boxes: int
    created_ms: int
    created_by: str
    handed_over_ms: int | None
    handed_over_to: str
    downloads: int


class ExportJobOut(BaseModel):
    """An export being built by the job worker (``appliance.export.jobs``); poll until
    ``state`` is done (``export`` then holds the package) or failed (``error`` says why)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    request_id: int
    state: str = Field(description="queued, building, done or failed.")
    progress: float = Field(description="0..1")
    stage: str
    created_by: str
    queued_ms: int
    started_ms: int | None
    finished_ms: int | None
    error: str
    export_id: str | None
    signer_fingerprint: str = Field(description="Print it on the hand-over notice (when done).")
    no_footage: list[str]
    export: ExportOut | None = None


class ExportQueued(BaseModel):
    job: ExportJobOut
    passphrase: str = Field(description="Shown once, stored nowhere: give it by another channel.")
    passphrase_generated: bool


class HandoverIn(BaseModel):
    export_id: str = Field(min_length=1, max_length=64)
    recipient: str = Field(min_length=1, max_length=200)
    form: str = Field(default="USB 메모리", min_length=1, max_length=100)


class FeeIn(BaseModel):
    fee_krw: int = Field(ge=0, le=10**9)
    note: str = Field(default="", max_length=300)


class CloseIn(BaseModel):
    note: str = Field(default="", max_length=500)
    withdrawn: bool = False


class DeletionOut(BaseModel):
    segments: int
    size_bytes: int
    destruction_ids: list[int]


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int
    kind: DocumentKind
    filename: str
    content_type: str
    size_bytes: int
    sha256_hex: str
    uploaded_ms: int
    uploaded_by: str


class DeadlinesOut(BaseModel):
    now_ms: int
    overdue: list[RequestOut]
    due_soon: list[RequestOut]
    counts: dict[str, int]


class HoldOut(BaseModel):
    """A request's hold: what is protected from the purge now."""

    id: int
    camera_ids: list[str]
    start_ms: int
    end_ms: int
    reason: str
    reference: str
    placed_by: str
    placed_ms: int
    expires_ms: int | None
    released_ms: int | None
    released_by: str
    release_reason: str
    active: bool

    @classmethod
    def of(cls, view: HoldView) -> HoldOut:
        hold = view.hold
        return cls(
            id=hold.id or 0,
            camera_ids=list(view.camera_ids),
            start_ms=hold.start_ms,
            end_ms=hold.end_ms,
            reason=hold.reason,
            reference=hold.reference,
            placed_by=hold.placed_by,
            placed_ms=hold.placed_ms,
            expires_ms=hold.expires_ms,
            released_ms=hold.released_ms,
            released_by=hold.released_by,
            release_reason=hold.release_reason,
            active=view.active,
        )


class HoldNarrowIn(BaseModel):
    """The smaller scope to keep held: cameras and range within the current hold."""

    camera_ids: list[CameraField] = Field(min_length=1, max_length=64)
    start_ms: int = Field(ge=0, le=MAX_MS)
    end_ms: int = Field(ge=0, le=MAX_MS)
    reason: str = Field(min_length=1, max_length=500, description="Why less is kept (ledgered).")


class HoldReleaseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Why it ends (ledgered).")


# -- the agency API's additions (issue 14) ------------------------------------------------


class AgencyCameraOut(BaseModel):
    """A camera an agency may name in a request: its name and location, no stream."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    location: str


class AgencyEventOut(BaseModel):
    """A status change of the agency's own request; poll with ``since`` = the last ``seq``."""

    model_config = ConfigDict(from_attributes=True)

    seq: int = Field(description="The ledger entry's sequence number (increasing).")
    ts_ms: int
    state: RequestState
    action: str = Field(description="receive, verify_identity, decide, notify, fulfil, ...")
    decision: str | None = Field(description="The decision, or 'withdrawn', when one is known.")


class AgencyWithdrawIn(BaseModel):
    note: str = Field(min_length=1, max_length=500, description="Why it is withdrawn.")
