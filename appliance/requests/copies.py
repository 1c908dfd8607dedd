"""Copies: a masked, signed, encrypted package of the approved scope (R-REQ-5), handed over
in person or downloaded by the agency; each hand-over is a provision in the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Protocol

from sqlmodel import Session, col, select

from appliance.errors import Conflict, NotFound, ValidationFailed
from appliance.export.jobs import Built, Progress
from appliance.export.options import MaskPlan
from appliance.export.package import generate_passphrase
from appliance.export.service import ExportResult, discard_package, make_export
from appliance.ledger import EventType, Ledger
from appliance.models import (
    FootageRequest,
    RequestExport,
)
from appliance.requests._stage import Stage, ref
from appliance.requests.kinds import (
    Decision,
    Fulfilment,
    RequestKind,
    RequestState,
)
from appliance.requests.onsite import masking_applied
from appliance.requests.workflow import (
    approved_scope,
    counterpart,
)

if TYPE_CHECKING:
    from appliance.access.principal import Principal
    from appliance.export.jobs import ExportJob, ExportJobs

__all__ = ["Copies", "ExportBuilder", "check_exportable", "queue_export", "recorded_sha256"]


def check_exportable(request: FootageRequest) -> None:
    """A copy is made only of what an accepted decision released, before fulfilment."""
    if request.kind not in (RequestKind.copy.value, RequestKind.viewing.value):
        raise Conflict(f"request {request.id} asks for {request.kind}: nothing to export")
    if request.decision not in (Decision.accepted.value, Decision.partial.value) or (
        request.state not in (RequestState.decided.value, RequestState.notified.value)
    ):
        raise Conflict("export only what an accepted decision released, before fulfilment")


def recorded_sha256(ledger: Ledger, export_id: str) -> str:
    """The package file's SHA-256 as its ``export_created`` entry recorded it ("" for a
    package made before the entry carried one)."""
    for entry in ledger.entries(refs=[export_id], events=[EventType.export_created], limit=1):
        value = entry.data.get("sha256")
        if isinstance(value, str):
            return value
    return ""


class ExportBuilder(Protocol):
    """What builds an export for a principal (``RequestService.create_export``)."""

    def create_export(
        self,
        principal: Principal,
        request_id: int,
        *,
        plan: MaskPlan,
        passphrase: str | None = None,
        plans: dict[str, MaskPlan] | None = None,
        progress: Progress | None = None,
    ) -> ExportResult: ...


def queue_export(
    jobs: ExportJobs,
    builder: ExportBuilder,
    principal: Principal,
    request: FootageRequest,
    *,
    plan: MaskPlan,
    plans: dict[str, MaskPlan] | None = None,
    passphrase: str | None = None,
) -> tuple[ExportJob, str, bool]:
    """Queue the export of ``request`` (checked now, built by the job worker).

    Returns the job, the transport passphrase and whether it was generated: it is chosen now
    so that it is shown once, here, and the job holds nothing to show later. The export is
    recorded (row and ``export_created`` entry) when the job has built it, as before.
    """
    check_exportable(request)
    assert request.id is not None
    request_id = request.id
    generated = passphrase is None
    secret = passphrase or generate_passphrase()

    def work(progress: Progress) -> Built:
        result = builder.create_export(
            principal, request_id, plan=plan, plans=plans, passphrase=secret, progress=progress
        )
        return Built(result.package_id, result.signer_fingerprint, tuple(result.no_footage))

    return jobs.submit(request_id, principal.actor, work), secret, generated


class Copies(Stage):
    """Exports of a request and their hand-over."""

    def create_export(
        self,
        request_id: int,
        *,
        plan: MaskPlan,
        actor: str,
        passphrase: str | None = None,
        plans: dict[str, MaskPlan] | None = None,
        progress: Progress | None = None,
    ) -> ExportResult:
        """A masked, signed, encrypted package of the approved scope (R-REQ-5)."""
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            check_exportable(request)
            cameras, lo, hi = approved_scope(request)
            meta = {
                "request": {
                    "id": request.id,
                    "kind": request.kind,
                    "requester_kind": request.requester_kind,
                    "requester": counterpart(request),
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
            progress=progress,
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
                        vault_key_id=result.vault_key_id,
                        sealed_key=result.sealed_key,
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
                        # What was applied, as for on-site viewing: a copy in which
                        # nothing was obscured is not a masked copy.
                        "masking": result.masked_boxes > 0,
                        "form": "마스킹·서명·암호화 파일",
                        "file": result.path.name,
                        "blake2b": result.blake2b_hex,
                        "sha256": result.sha256_hex,
                        "request_id": request_id,
                        "recipient": counterpart(request),
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
        sha256 = recorded_sha256(self._ctx.ledger, export.id)
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
                "masking": masking_applied(export),
                "officer": request.officer,
                "export_id": export.id,
                "blake2b": export.blake2b_hex,
                "sha256": sha256,
                "request_id": request.id,
            },
            ref=ref(request),
            session=session,
        )

    def _export(self, session: Session, request_id: int, export_id: str) -> RequestExport:
        export = session.get(RequestExport, export_id)
        if export is None or export.request_id != request_id:
            raise NotFound(f"no export {export_id} on request {request_id}")
        if export.destroyed_ms is not None:
            # Refused before the provision entry: nothing can be handed over any more.
            raise Conflict(f"export {export_id} was destroyed (requests.export_keep_days)")
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
    ) -> tuple[RequestExport, BinaryIO]:
        """An agency downloads its approved package; the provision is in the ledger before the
        first byte is read (invariant 5). The package is opened first (a missing file records
        no provision) and returned open, to be streamed from disk, never read whole."""
        with self._ctx.db.session() as session:
            self._load(session, request_id, agency_user_id)  # another agency's: NotFound
            export = self._export(session, request_id, export_id)
            path = self._ctx.settings.exports_dir / export.file
        try:
            package = path.open("rb")
        except FileNotFoundError as exc:
            raise NotFound(f"the package of export {export_id} is gone") from exc
        try:
            return self._provide_download(request_id, export_id, agency_user_id, actor), package
        except BaseException:
            package.close()
            raise

    def _provide_download(
        self, request_id: int, export_id: str, agency_user_id: int, actor: str
    ) -> RequestExport:
        with self._ctx.db.session() as session:
            request = self._load(session, request_id, agency_user_id)
            export = self._export(session, request_id, export_id)
            self._provide(
                session,
                request,
                export,
                recipient=counterpart(request),
                form="기관 API 전자 파일 (암호화)",
                actor=actor,
            )
            return export
