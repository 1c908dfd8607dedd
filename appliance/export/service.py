"""Make a masked, signed, encrypted export of stored footage (design/export.md).

The footage is decrypted, rebuilt into MP4, masked and re-encoded in memory; only the
encrypted package reaches the disk (invariant 1). Recording the export (a database row and the
ledger's ``export_created`` entry) is the caller's job, in one transaction, because the caller
knows the request; if that fails the caller deletes the package with ``discard_package``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import cv2
import nacl.pwhash.argon2id as argon2id
from sqlmodel import Session, col, select

from appliance import __version__
from appliance.clock import from_ms
from appliance.errors import NotFound, ValidationFailed
from appliance.export.masking import MaskSummary, mask_video
from appliance.export.options import MaskPlan
from appliance.export.package import (
    KDF_INTERACTIVE,
    KDF_MODERATE,
    KdfLimits,
    build_package,
    fingerprint,
    generate_passphrase,
    new_file_key,
    read_header,
    store_package,
)
from appliance.export.shred import shred_file
from appliance.keys import load_signing_key
from appliance.media import SegmentSource, build_fmp4, open_segment
from appliance.media.sealing import SegmentKeyOpener
from appliance.models import Camera, Segment

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["ExportResult", "ExportedItem", "discard_package", "first_frame_ms", "make_export"]

KDF_BY_STRENGTH: dict[str, KdfLimits] = {
    "interactive": KDF_INTERACTIVE,
    "moderate": KDF_MODERATE,
    "sensitive": KdfLimits(argon2id.OPSLIMIT_SENSITIVE, argon2id.MEMLIMIT_SENSITIVE),
}


@dataclass(frozen=True)
class ExportedItem:
    camera_id: str
    file: str
    frames: int
    masked_boxes: int
    summary: MaskSummary


@dataclass(frozen=True)
class ExportResult:
    """A stored package; ``passphrase`` is shown once and kept nowhere."""

    package_id: str
    path: Path
    size_bytes: int
    blake2b_hex: str
    passphrase: str
    passphrase_generated: bool
    #: SHA-256 of the package file: what a recipient checks with ``sha256sum`` (and what police
    #: and courts record with digital evidence); the ledger's ``export_created`` keeps it.
    sha256_hex: str
    signer_fingerprint: str
    manifest: dict[str, Any]
    items: list[ExportedItem] = field(default_factory=list)
    no_footage: list[str] = field(default_factory=list)
    #: The content key sealed to the vault: kept in ``request_export``, not in the file, so it
    #: can be re-sealed on rotation and destroyed with the package.
    vault_key_id: str = ""
    sealed_key: bytes | None = None

    @property
    def frames(self) -> int:
        return sum(i.frames for i in self.items)

    @property
    def masked_boxes(self) -> int:
        return sum(i.masked_boxes for i in self.items)


def first_frame_ms(
    segment: Segment, start_ms: int, opener: SegmentKeyOpener, segments_dir: SegmentSource
) -> int:
    """Wall time of the first frame ``build_fmp4`` emits from ``segment``: the key frame at or
    before ``start_ms``, else the first key frame after it."""
    with open_segment(segment, opener, segments_dir) as reader:
        key_before: int | None = None
        for sample in reader:
            if sample.stream_index != 0:
                continue
            if sample.wall_ms <= start_ms:
                if sample.is_key:
                    key_before = sample.wall_ms
                continue
            if key_before is not None:
                return key_before
            if sample.is_key:
                return sample.wall_ms
        if key_before is not None:
            return key_before
    raise NotFound(f"segment {segment.id} has no key frame in the range")


def _segments(session: Session, camera_id: str, start_ms: int, end_ms: int) -> list[Segment]:
    return list(
        session.exec(
            select(Segment)
            .where(
                Segment.camera_id == camera_id,
                col(Segment.end_ms) > start_ms,
                col(Segment.start_ms) < end_ms,
                col(Segment.sealed_key).is_not(None),
            )
            .order_by(col(Segment.start_ms))
        ).all()
    )


def make_export(
    ctx: AppContext,
    *,
    camera_ids: Sequence[str],
    start_ms: int,
    end_ms: int,
    plan: MaskPlan,
    exporter: str,
    manifest_extra: Mapping[str, Any],
    passphrase: str | None = None,
    plans: Mapping[str, MaskPlan] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> ExportResult:
    """Mask the footage of ``camera_ids`` in [start_ms, end_ms) and store a signed package.

    ``plans`` overrides ``plan`` per camera (officer regions are drawn per camera view);
    ``progress`` is told the fraction done and the step (an export job shows it).
    Raises NotFound if no camera has footage in the range, VaultLocked if the vault is locked.
    """
    settings = ctx.settings
    if end_ms <= start_ms:
        raise ValidationFailed("the export range is empty")
    if end_ms - start_ms > settings.requests.max_export_s * 1000:
        raise ValidationFailed(
            f"an export covers at most {settings.requests.max_export_s} s "
            "(requests.max_export_s); split it"
        )
    if passphrase is not None and len(passphrase) < 12:
        raise ValidationFailed("a transport passphrase needs at least 12 characters")
    with ctx.db.session() as session:
        cameras = {c.id: c for c in session.exec(select(Camera)).all()}
        chosen = {cam: _segments(session, cam, start_ms, end_ms) for cam in camera_ids}
    if missing := [c for c in camera_ids if c not in cameras]:
        raise NotFound(f"unknown camera(s): {', '.join(missing)}")
    videos: dict[str, bytes] = {}
    items: list[ExportedItem] = []
    manifest_items: list[dict[str, Any]] = []
    no_footage: list[str] = []
    tell = progress or (lambda fraction, stage: None)
    for done, camera_id in enumerate(camera_ids):
        tell(0.9 * done / len(camera_ids), f"masking {camera_id}")
        segments = chosen[camera_id]
        if not segments:
            no_footage.append(camera_id)
            continue
        origin = first_frame_ms(segments[0], start_ms, ctx.vault, ctx.segment_files)
        # An export reads every segment from its start (seek=False): evidence is hashed whole.
        source = b"".join(
            build_fmp4(
                segments, start_ms, end_ms, ctx.vault, ctx.segment_files, keep_gaps=True, seek=False
            )
        )
        camera_plan = (plans or {}).get(camera_id, plan)
        masked = mask_video(source, camera_plan, origin_ms=origin, start_ms=start_ms, end_ms=end_ms)
        del source
        name = f"video/{camera_id}_{from_ms(start_ms):%Y%m%dT%H%M%SZ}.mp4"
        videos[name] = masked.mp4
        summary = masked.summary
        boxes = sum(summary.boxes.values())
        items.append(ExportedItem(camera_id, name, summary.frames, boxes, summary))
        camera = cameras[camera_id]
        manifest_items.append(
            {
                "file": name,
                "camera_id": camera_id,
                "camera_name": camera.name,
                "camera_location": camera.location,
                "from_ms": start_ms,
                "to_ms": end_ms,
                "source_segments": [
                    {
                        "id": s.id,
                        "start_ms": s.start_ms,
                        "end_ms": s.end_ms,
                        "size_bytes": s.size_bytes,
                        "digest": s.digest,
                        "codec": s.codec,
                    }
                    for s in segments
                ],
                "masking": summary.as_dict(),
            }
        )
    if not videos:
        raise NotFound("none of the cameras has footage in that range")
    tell(0.9, "signing and encrypting")
    now = ctx.clock.now_ms()
    generated = passphrase is None
    secret = passphrase or generate_passphrase()
    signing_key = load_signing_key(settings.storage.key_dir)
    file_key = new_file_key()
    vault_key_id, sealed_key = ctx.vault.seal_segment_key(file_key)
    manifest = {
        **manifest_extra,
        "site": {"name": settings.site.name, "address": settings.site.address},
        "exporter": exporter,
        "created_utc": from_ms(now).astimezone(UTC).isoformat(),
        "created_local": from_ms(now).astimezone(settings.zone).isoformat(),
        "range": {"from_ms": start_ms, "to_ms": end_ms},
        "cameras": list(camera_ids),
        "no_footage": no_footage,
        "items": manifest_items,
        "tool": {
            "name": "clinic-cctv-appliance",
            "version": __version__,
            "pyav": av.__version__,
            "opencv": cv2.__version__,
            "encoder": (
                f"libx264 {plan.options.preset} crf {plan.options.crf} subme {plan.options.subme}"
            ),
        },
    }
    data = build_package(
        manifest,
        videos,
        signing_key=signing_key,
        passphrase=secret,
        created_ms=now,
        kdf=KDF_BY_STRENGTH[settings.requests.export_kdf_strength],
        readme=_README,
        file_key=file_key,
    )
    del videos, file_key
    package_id = read_header(data).package_id
    path = store_package(settings.exports_dir, package_id, data)
    return ExportResult(
        package_id=package_id,
        path=path,
        size_bytes=len(data),
        blake2b_hex=hashlib.blake2b(data, digest_size=32).hexdigest(),
        sha256_hex=hashlib.sha256(data).hexdigest(),
        passphrase=secret,
        passphrase_generated=generated,
        signer_fingerprint=fingerprint(bytes(signing_key.verify_key)),
        manifest=manifest,
        items=items,
        no_footage=no_footage,
        vault_key_id=vault_key_id,
        sealed_key=sealed_key,
    )


def discard_package(path: Path) -> None:
    """Destroy a package that could not be recorded (overwritten, then unlinked)."""
    shred_file(path)


_README = """개인영상정보 사본 (마스킹·전자서명·암호화)

이 파일은 영상(video/*.mp4), 목록(manifest.json)과 그 전자서명(manifest.sig)을 담고 있습니다.
manifest.json 은 각 영상의 SHA-256 값, 원본 세그먼트의 해시, 마스킹 내역을 기록합니다.
SHA256SUMS 는 모든 파일의 SHA-256 값입니다. 압축을 푼 폴더에서 sha256sum -c SHA256SUMS 로
확인하고, 인수확인서에 적힌 값과 대조하십시오.
검증: appliance verify-export PACKAGE --passphrase ... (서명 검증키 지문을 통지서와 대조하십시오)

A masked copy of CCTV footage. manifest.json lists each video's SHA-256, the hashes of the
source segments and what was masked; manifest.sig is its ed25519 signature (hex). SHA256SUMS
gives every file's SHA-256: run `sha256sum -c SHA256SUMS` in the unpacked folder and compare
the values with the signed hand-over record.
"""
