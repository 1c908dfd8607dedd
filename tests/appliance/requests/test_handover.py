"""The hand-over record of a copy (issue 20) against a real database, vault, ledger and
package: every file with its size and SHA-256 (the package file's equal to ``sha256sum``'s and
to the ledger's), the scope, the masking applied, the signer, the statutory basis; the reading
in the ledger first; officer only; a tampered package gets no record; the CLI prints it."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from appliance.cli import app
from appliance.context import AppContext
from appliance.errors import Conflict, FootageCorrupt, PermissionDenied, VaultLocked
from appliance.export.package import fingerprint, open_package, parse_sha256sums
from appliance.keys import load_verify_key
from appliance.ledger import EventType
from appliance.models import FootageRequest
from appliance.requests import RequestService
from appliance.requests.handover import statutory_basis
from appliance.requests.handover_text import record_text
from appliance.settings import Settings
from tests.support.config import SettingsFactory, base_config, to_toml
from tests.support.handover import CAMERAS, LEGAL_BASIS, LETTER, handed_copy
from tests.support.principals import AUDITOR, OFFICER


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(requests={"export_kdf_strength": "interactive"})


def _entries(ctx: AppContext, event: EventType, ref: str) -> list[dict[str, object]]:
    return [dict(e.data) for e in ctx.ledger.entries(refs=[ref], events=[event], limit=None)]


def test_the_record_of_a_handed_over_copy(ctx: AppContext, tmp_path: Path) -> None:
    copy = handed_copy(ctx)
    service = RequestService(ctx)
    rid, made = copy.request_id, copy.export
    record = service.handover_record(OFFICER, rid, None, via="test")

    # The package file: its SHA-256 is what coreutils prints and what the ledger recorded.
    package = made.path
    printed = subprocess.run(["sha256sum", str(package)], capture_output=True, text=True)
    assert record.package.package and record.package.name == package.name
    assert record.package.sha256 == printed.stdout.split()[0] == made.sha256_hex
    assert record.package.size_bytes == package.stat().st_size
    (created,) = _entries(ctx, EventType.export_created, made.package_id)
    (provision,) = _entries(ctx, EventType.provision, str(rid))
    assert created["sha256"] == provision["sha256"] == made.sha256_hex

    # Every member, the videos with their cameras, each hash as the signed manifest gives it.
    names = [f.name for f in record.files[1:]]
    videos = [f for f in record.files if f.name.startswith("video/")]
    assert [v.camera_id for v in videos] == list(CAMERAS)
    contents = open_package(package.read_bytes(), "transport pass 1")
    sums = parse_sha256sums(contents.extras["SHA256SUMS"])
    for video in videos:
        body = contents.files[video.name]
        assert video.sha256 == hashlib.sha256(body).hexdigest() == sums[video.name]
        assert video.sha256 == contents.manifest["files"][video.name]["sha256"]
        assert video.size_bytes == len(body)
    assert names[len(videos) :] == ["manifest.json", "README.txt", "manifest.sig", "SHA256SUMS"]
    assert all(len(f.sha256) == 64 and f.size_bytes > 0 for f in record.files)

    # Scope, people, masking, signer, basis.
    assert [c.camera_id for c in record.cameras] == list(CAMERAS)
    assert record.cameras[0].name == "카메라 1" and record.cameras[0].location == "1층 로비 1"
    assert (record.from_ms, record.to_ms) == (copy.start_ms, copy.end_ms)
    assert record.recipient == "김수사 경위" and record.form == "USB 메모리"
    assert record.handed_over_ms is not None and record.handed_over_by == OFFICER.actor
    assert record.requester == "김수사 (서울중앙경찰서)" and record.letter_reference == LETTER
    masking = record.masking
    assert masking.method == "pixelate" and masking.faces
    assert masking.officer_regions == len(CAMERAS) and masking.officer_boxes > 0
    assert masking.masked_by == OFFICER.actor and masking.approved_by == OFFICER.actor
    assert masking.frames > 0 and masking.frames_masked == masking.frames
    assert record.signer_fingerprint == fingerprint(load_verify_key(ctx.settings.storage.key_dir))
    assert [b.ko for b in record.basis] == [f"요청서에 적힌 근거: {LEGAL_BASIS}"]

    # The reading is in the ledger (an access to a request document), naming the package.
    (read,) = _entries(ctx, EventType.handover_record, str(rid))
    assert read == {"request_id": rid, "export_id": made.package_id, "sha256": made.sha256_hex,
                    "files": len(record.files), "via": "test"}  # fmt: skip
    assert "handover_record" in [h.event for h in service.history(OFFICER, rid)]

    # The text the CLI prints carries the same facts, in both languages.
    for lang in ("ko", "en"):
        text = record_text(record, lang, ctx.settings.zone)
        assert all(f.sha256 in text and f.name in text for f in record.files)
        assert LETTER in text and LEGAL_BASIS in text and record.signer_fingerprint in text
    assert "인수자" in record_text(record, "ko", ctx.settings.zone)
    assert "Received by" in record_text(record, "en", ctx.settings.zone)

    # Officer only: the auditor reads requests but not this; nothing is recorded for him.
    with pytest.raises(PermissionDenied):
        service.handover_record(AUDITOR, rid, None, via="test")
    assert len(_entries(ctx, EventType.handover_record, str(rid))) == 1

    # The console prints the same record (the vault has no passphrase in tests).
    config = tmp_path / "appliance.toml"
    config.write_text(to_toml(base_config(tmp_path)), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["requests", "handover-record", str(rid), "--config", str(config), "--lang", "en"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert all(f.sha256 in result.output for f in record.files)
    assert "Hand-over record" in result.output and "Cameras: 카메라 1 (cam01" in result.output
    reads = _entries(ctx, EventType.handover_record, str(rid))
    assert [r["via"] for r in reads] == ["test", "cli"]

    # A package altered on disk gets no record (and no entry): it must not be certified.
    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 0x01
    package.write_bytes(bytes(data))
    with pytest.raises(FootageCorrupt, match="fails verification"):
        service.handover_record(OFFICER, rid, made.package_id, via="test")
    assert len(_entries(ctx, EventType.handover_record, str(rid))) == 2
    bad = CliRunner().invoke(
        app,
        ["requests", "handover-record", str(rid), "--config", str(config)],
        env={"COLUMNS": "300"},
    )
    assert bad.exit_code == 2 and "fails verification" in bad.output


def test_no_record_without_a_copy_or_an_open_vault(ctx: AppContext) -> None:
    copy = handed_copy(ctx, hand_over=False, cameras=("cam01",))
    service = RequestService(ctx)
    record = service.handover_record(OFFICER, copy.request_id, None, via="test")
    # Not handed over yet: the date is left to be written by hand, the requester receives.
    assert record.handed_over_ms is None and record.form == ""
    assert record.recipient == "김수사 (서울중앙경찰서)"
    ctx.vault.set_passphrase("vault passphrase 1")
    ctx.vault.lock()
    with pytest.raises(VaultLocked):
        service.handover_record(OFFICER, copy.request_id, None, via="test")
    with ctx.db.session() as session:  # the same row as a viewing request: nothing handed over
        request = session.get(FootageRequest, copy.request_id)
        assert request is not None
        request.kind = "viewing"
        session.add(request)
    ctx.vault.unlock("vault passphrase 1")
    with pytest.raises(Conflict, match="not a copy"):
        service.handover_record(OFFICER, copy.request_id, None, via="test")
    assert _entries(ctx, EventType.handover_record, str(copy.request_id)) == [
        {"request_id": copy.request_id, "export_id": copy.export.package_id,
         "sha256": copy.export.sha256_hex, "files": 6, "via": "test"}
    ]  # fmt: skip


def test_statutory_basis_by_requester() -> None:
    def request(kind: str, basis: str = "") -> FootageRequest:
        return FootageRequest(kind="copy", state="notified", channel="post", requester_kind=kind,
                              requester_name="x", camera_ids=[], start_ms=0, end_ms=1,
                              received_ms=0, received_by="x", due_ms=1, created_ms=0,
                              updated_ms=0, legal_basis=basis)  # fmt: skip

    subject = statutory_basis(request("subject"), [])
    assert len(subject) == 1 and "제35조" in subject[0].ko and "Article 35" in subject[0].en
    police = statutory_basis(request("police"), [])
    assert "____" in police[0].ko  # no guess: the letter's basis is written by hand
    court = statutory_basis(request("court", "민사소송법 제344조"), ["cam09"])
    assert [b.ko for b in court] == [
        "요청서에 적힌 근거: 민사소송법 제344조",
        "「의료법」 제38조의2 (수술실 영상: cam09)",
    ]
