"""The hand-over record of a copy (사본 인수확인서, issue 20): one page the recipient signs,
naming the request, who receives it, the scope, the masking applied, every file with its size
and SHA-256, the package's signing key fingerprint and the statutory basis.

Rules kept here:

- The record certifies only a package that verifies: it is opened in memory with the vault's
  copy of its key, both signatures are checked against this appliance's key, every hash inside
  is checked, and the file's SHA-256 must be the one the ledger's ``export_created`` entry
  recorded (its BLAKE2b the one in ``request_export``). A package that fails is FootageCorrupt
  and no record is shown.
- What it prints is read from the package (manifest, members) and the ledger (the provision),
  never typed in by the caller.
- Showing it is an access to a request document: its ``handover_record`` entry is in the ledger
  before the record is returned (LedgerUnavailable otherwise, and nothing is shown).

``build_record`` and ``statutory_basis`` are pure; ``HandoverRecords`` does the I/O. The page
(``api.routes.desk_pages``) and ``appliance requests handover-record`` (``handover_text``)
present the same ``HandoverRecord``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from appliance.errors import Conflict, FootageCorrupt, NotFound, VaultLocked
from appliance.export.package import (
    MANIFEST,
    SHA256SUMS,
    VerifyReport,
    fingerprint,
    read_header,
    unseal_vault_slot,
    verify_package,
)
from appliance.keys import load_verify_key
from appliance.ledger import EventType
from appliance.models import Camera, FootageRequest, RequestExport
from appliance.requests._stage import Stage, ref
from appliance.requests.copies import recorded_sha256
from appliance.requests.kinds import AGENCY_KINDS, RequesterKind, RequestKind
from appliance.requests.notices import request_number
from appliance.requests.workflow import counterpart

__all__ = [
    "Basis",
    "HandoverRecord",
    "HandoverRecords",
    "MaskingApplied",
    "RecordCamera",
    "RecordFile",
    "build_record",
    "statutory_basis",
]

#: Who asks for their own images (or on the subject's behalf): the right of access.
_SUBJECT_KINDS = frozenset(
    {RequesterKind.subject, RequesterKind.representative, RequesterKind.delegate}
)


@dataclass(frozen=True)
class Basis:
    """One statutory basis line, in Korean and English (a law's name is content, not UI)."""

    ko: str
    en: str


@dataclass(frozen=True)
class RecordFile:
    """One file handed over: the package itself, or a member of it."""

    name: str
    size_bytes: int
    sha256: str
    camera_id: str = ""  # for a video
    package: bool = False  # the .cctvexp file itself


@dataclass(frozen=True)
class RecordCamera:
    camera_id: str
    name: str
    location: str


@dataclass(frozen=True)
class MaskingApplied:
    """What the package's manifest says masking did, summed over its videos."""

    method: str  # "pixelate" or "blur" (the options recorded in the manifest)
    faces: bool  # faces detected and obscured automatically
    people: bool  # whole people detected and obscured automatically
    face_boxes: int
    person_boxes: int
    officer_boxes: int
    officer_regions: int  # rectangles the officer drew
    exemptions: int  # the requester's own area, left as recorded
    frames: int
    frames_masked: int
    masked_by: str  # who built the copy (the manifest's exporter)
    approved_by: str  # who decided the request
    approved_ms: int | None


@dataclass(frozen=True)
class HandoverRecord:
    """Everything the one-page record prints."""

    request_id: int
    number: str  # 2026-0007
    kind: str  # RequestKind
    requester: str
    requester_kind: str
    letter_reference: str
    received_ms: int
    recipient: str
    handed_over_ms: int | None  # None: not yet recorded (written by hand on the paper)
    handed_over_by: str
    form: str  # USB 메모리, ... ("" until handed over)
    export_id: str
    created_ms: int
    cameras: tuple[RecordCamera, ...]
    from_ms: int
    to_ms: int
    masking: MaskingApplied
    files: tuple[RecordFile, ...]  # the package file first, then its members
    signer_fingerprint: str
    signer_public_key: str
    basis: tuple[Basis, ...]
    site_name: str
    site_address: str
    officer: str  # the officer in charge named on the request, else the site's officer
    printed_ms: int
    printed_by: str

    @property
    def package(self) -> RecordFile:
        return self.files[0]


def statutory_basis(request: FootageRequest, restricted: Sequence[str]) -> tuple[Basis, ...]:
    """The law under which this copy is handed over: the basis the requester stated (an
    agency's letter names it), the data subject's right of access, and the operating-room rule
    for operating-room cameras (R-REQ-9). An agency that named none gets a blank line to fill
    in from its letter, never a guess."""
    lines: list[Basis] = []
    kind = RequesterKind(request.requester_kind)
    if request.legal_basis.strip():
        text = request.legal_basis.strip()
        lines.append(Basis(f"요청서에 적힌 근거: {text}", f"Basis stated in the request: {text}"))
    if kind in _SUBJECT_KINDS:
        lines.append(
            Basis(
                "「개인정보 보호법」 제35조(개인정보의 열람) 및 같은 법 시행령 제41조",
                "Personal Information Protection Act, Article 35 (access to personal "
                "information), and its Enforcement Decree, Article 41",
            )
        )
    elif kind in AGENCY_KINDS and not request.legal_basis.strip():
        lines.append(
            Basis(
                "공문에 적힌 근거: ________________________________",
                "Basis stated in the official letter: ________________________",
            )
        )
    if restricted:
        cams = ", ".join(restricted)
        lines.append(
            Basis(
                f"「의료법」 제38조의2 (수술실 영상: {cams})",
                f"Medical Service Act, Article 38-2 (operating-room footage: {cams})",
            )
        )
    return tuple(lines)


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _masking(manifest: Mapping[str, Any], request: FootageRequest) -> MaskingApplied:
    boxes: dict[str, int] = {}
    regions = exemptions = frames = frames_masked = 0
    methods: list[str] = []
    faces = people = False
    for item in manifest.get("items", []):
        summary = item.get("masking", {}) if isinstance(item, dict) else {}
        for kind, count in (summary.get("boxes") or {}).items():
            boxes[kind] = boxes.get(kind, 0) + _int(count)
        regions += len(summary.get("officer_regions") or [])
        exemptions += len(summary.get("exemptions") or [])
        frames += _int(summary.get("frames"))
        frames_masked += _int(summary.get("frames_masked"))
        options = summary.get("options") or {}
        methods.append(str(options.get("method", "")))
        faces = faces or bool(options.get("faces"))
        people = people or bool(options.get("people"))
    return MaskingApplied(
        method=", ".join(sorted({m for m in methods if m})),
        faces=faces,
        people=people,
        face_boxes=boxes.get("face", 0),
        person_boxes=boxes.get("person", 0),
        officer_boxes=boxes.get("officer", 0),
        officer_regions=regions,
        exemptions=exemptions,
        frames=frames,
        frames_masked=frames_masked,
        masked_by=str(manifest.get("exporter", "")),
        approved_by=request.decided_by,
        approved_ms=request.decided_ms,
    )


def _files(export: RequestExport, report: VerifyReport) -> tuple[RecordFile, ...]:
    """The package file, then its videos (with their cameras), then the other members."""
    manifest = report.manifest or {}
    cameras = {
        str(i.get("file")): str(i.get("camera_id", ""))
        for i in manifest.get("items", [])
        if isinstance(i, dict)
    }
    package = RecordFile(export.file, export.size_bytes, report.sha256, package=True)
    videos = [
        RecordFile(name, size, digest, camera_id=cameras.get(name, ""))
        for name, (size, digest) in sorted(report.members.items())
        if name in cameras or name.startswith("video/")
    ]
    order = {MANIFEST: 0, SHA256SUMS: 9}
    others = [
        RecordFile(name, size, digest)
        for name, (size, digest) in sorted(
            report.members.items(), key=lambda kv: (order.get(kv[0], 5), kv[0])
        )
        if not (name in cameras or name.startswith("video/"))
    ]
    return (package, *videos, *others)


def build_record(
    request: FootageRequest,
    export: RequestExport,
    report: VerifyReport,
    *,
    cameras: Mapping[str, Camera],
    restricted: Sequence[str],
    provision: Mapping[str, Any] | None,
    site_name: str,
    site_address: str,
    site_officer: str,
    zone: ZoneInfo,
    printed_ms: int,
    printed_by: str,
) -> HandoverRecord:
    """The record of a verified package (pure). ``provision`` is the ledger's first
    ``provision`` entry naming the export (``ts_ms``, ``actor``, ``data``), or None."""
    assert request.id is not None and report.header is not None
    manifest = report.manifest or {}
    given = manifest.get("range") or {}
    scope_ids = [str(c) for c in manifest.get("cameras") or export.camera_ids]
    data = (provision or {}).get("data") or {}
    signer = report.header.signer_public_key
    return HandoverRecord(
        request_id=request.id,
        number=request_number(request, zone),
        kind=request.kind,
        requester=counterpart(request),
        requester_kind=request.requester_kind,
        letter_reference=request.letter_reference,
        received_ms=request.received_ms,
        recipient=str(data.get("recipient") or export.handed_over_to or counterpart(request)),
        handed_over_ms=(provision or {}).get("ts_ms") or export.handed_over_ms,
        handed_over_by=str((provision or {}).get("actor") or ""),
        form=str(data.get("form") or ""),
        export_id=export.id,
        created_ms=export.created_ms,
        cameras=tuple(
            RecordCamera(c, cameras[c].name, cameras[c].location)
            if c in cameras
            else RecordCamera(c, c, "")
            for c in scope_ids
        ),
        from_ms=_int(given.get("from_ms")) or export.start_ms,
        to_ms=_int(given.get("to_ms")) or export.end_ms,
        masking=_masking(manifest, request),
        files=_files(export, report),
        signer_fingerprint=fingerprint(signer),
        signer_public_key=signer.hex(),
        basis=statutory_basis(request, restricted),
        site_name=site_name,
        site_address=site_address,
        officer=request.officer or site_officer,
        printed_ms=printed_ms,
        printed_by=printed_by,
    )


class HandoverRecords(Stage):
    """Opening, checking and recording the reading of a copy's hand-over record."""

    def record(
        self, request_id: int, export_id: str | None, *, actor: str, via: str
    ) -> HandoverRecord:
        """The record of ``export_id`` (default: the copy handed over last, else the newest
        copy), once its ``handover_record`` entry is in the ledger. Needs the unlocked vault."""
        vault = self._ctx.vault
        if not vault.is_unlocked:
            raise VaultLocked("the vault is locked: the copy cannot be opened to be checked")
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            if request.kind != RequestKind.copy.value:
                raise Conflict(f"request {request_id} asks for {request.kind}, not a copy")
            export = self._choose(request_id, export_id)
            cameras = {c.id: c for c in session.exec(select(Camera)).all()}
            restricted = self._restricted_cameras(session, list(export.camera_ids))
        path = self._ctx.settings.exports_dir / export.file
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"the package of export {export.id} is gone") from exc
        if export.sealed_key is not None:
            key = vault.open_segment_key(export.vault_key_id, export.sealed_key)
        else:  # made before migration 0008: the vault slot is in the header
            key = unseal_vault_slot(read_header(data), vault)
        report = verify_package(
            data, file_key=key, verify_key=load_verify_key(self._ctx.settings.storage.key_dir)
        )
        self._check(export, report, data)
        provision = self._provision(request, export.id)
        site = self._ctx.settings.site
        record = build_record(
            request,
            export,
            report,
            cameras=cameras,
            restricted=restricted,
            provision=provision,
            site_name=site.name,
            site_address=site.address,
            site_officer=site.officer.name,
            zone=self._ctx.settings.zone,
            printed_ms=self._now(),
            printed_by=actor,
        )
        self._ctx.ledger.append(
            EventType.handover_record,
            actor=actor,
            data={
                "request_id": request_id,
                "export_id": export.id,
                "sha256": report.sha256,
                "files": len(record.files),
                "via": via,
            },
            ref=ref(request),
        )
        return record

    def _choose(self, request_id: int, export_id: str | None) -> RequestExport:
        with self._ctx.db.session() as session:
            query = select(RequestExport).where(RequestExport.request_id == request_id)
            if export_id is not None:
                query = query.where(RequestExport.id == export_id)
            rows = list(session.exec(query.order_by(col(RequestExport.created_ms).desc())).all())
        if not rows:
            raise NotFound(
                f"no export {export_id} on request {request_id}"
                if export_id
                else f"request {request_id} has no copy yet"
            )
        handed = [r for r in rows if r.handed_over_ms is not None]
        chosen = max(handed, key=lambda r: r.handed_over_ms or 0) if handed else rows[0]
        if chosen.destroyed_ms is not None:
            raise Conflict(f"export {chosen.id} was destroyed (requests.export_keep_days)")
        return chosen

    def _check(self, export: RequestExport, report: VerifyReport, data: bytes) -> None:
        """Refuse to certify a package that is not exactly the one made and recorded."""
        if not report.ok or not report.contents_checked:
            failed = ", ".join(f"{c.name} ({c.detail})" for c in report.failed)
            raise FootageCorrupt(f"the package of export {export.id} fails verification: {failed}")
        if hashlib.blake2b(data, digest_size=32).hexdigest() != export.blake2b_hex:
            raise FootageCorrupt(f"the package of export {export.id} differs from its record")
        recorded = recorded_sha256(self._ctx.ledger, export.id)
        if recorded and recorded != report.sha256:
            raise FootageCorrupt(
                f"the package of export {export.id} differs from the SHA-256 the ledger recorded"
            )

    def _provision(self, request: FootageRequest, export_id: str) -> dict[str, Any] | None:
        for entry in self._ctx.ledger.entries(
            refs=[ref(request)], events=[EventType.provision], limit=None
        ):
            if entry.data.get("export_id") == export_id:
                return {"ts_ms": entry.ts_ms, "actor": entry.actor, "data": dict(entry.data)}
        return None
