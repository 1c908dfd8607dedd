"""Exports of stored footage: decrypted, masked and re-encoded in memory, stored as a signed,
encrypted package that verifies; nothing in clear reaches the disk (invariant 1)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from appliance.context import AppContext
from appliance.errors import NotFound, ValidationFailed, VaultLocked
from appliance.export.options import MaskPlan
from appliance.export.package import open_package, verify_package
from appliance.export.regions import NormRect, Region
from appliance.export.service import make_export
from appliance.keys import load_verify_key
from appliance.models import Segment
from appliance.settings import Settings
from tests.support.astronaut import FACE_CENTRE, astronaut_clip, covers, find_faces, store_segment
from tests.support.config import SettingsFactory

PASS = "transport passphrase 1"
FACE_RECT = NormRect(160 / 512, 50 / 512, 130 / 512, 130 / 512)


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(requests={"export_kdf_strength": "interactive"})


@pytest.fixture
def stored(ctx: AppContext) -> tuple[int, list[Segment]]:
    """Two contiguous 2-second segments of cam01, an hour ago."""
    t0 = ctx.clock.now_ms() - 3_600_000
    clip = astronaut_clip(2)
    segments = [store_segment(ctx, "cam01", t0 + i * 2000, clip, index=i) for i in range(2)]
    return t0, segments


def _grey_frames(mp4: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(mp4), "r") as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


def _plaintext_signatures(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and (b"ftypisom" in (body := path.read_bytes()) or b"moov" in body):
            found.append(str(path))
    return found


def test_export_masks_signs_encrypts_and_verifies(
    ctx: AppContext, stored: tuple[int, list[Segment]]
) -> None:
    t0, segments = stored
    result = make_export(
        ctx,
        camera_ids=["cam01", "cam02"],
        start_ms=t0 + 1000,
        end_ms=t0 + 3000,
        plan=MaskPlan(),
        exporter="officer1",
        manifest_extra={"request": {"id": 7}},
        passphrase=PASS,
    )
    assert result.no_footage == ["cam02"]
    assert result.path.parent == ctx.settings.exports_dir and result.path.exists()
    data = result.path.read_bytes()
    assert len(data) == result.size_bytes
    verify_key = load_verify_key(ctx.settings.storage.key_dir)
    report = verify_package(data, passphrase=PASS, verify_key=verify_key)
    assert report.ok, report.failed

    contents = open_package(data, PASS)
    (name,) = contents.files
    frames = _grey_frames(contents.files[name])
    assert len(frames) == 50  # 2 s at 25 fps across the segment boundary, cut to the range
    assert not any(covers(find_faces(f), FACE_CENTRE) for f in frames)
    item = contents.manifest["items"][0]
    assert [s["digest"] for s in item["source_segments"]] == [s.digest for s in segments]
    assert item["masking"]["frames"] == 50 and item["masking"]["boxes"]["face"] >= 50
    assert contents.manifest["request"] == {"id": 7}
    assert contents.manifest["no_footage"] == ["cam02"]
    assert _plaintext_signatures(ctx.settings.storage.data_dir) == []


def test_the_subject_exemption_keeps_her_face(
    ctx: AppContext, stored: tuple[int, list[Segment]]
) -> None:
    t0, _ = stored
    plan = MaskPlan(exemptions=(Region(FACE_RECT, label="정보주체"),))
    result = make_export(
        ctx,
        camera_ids=["cam01"],
        start_ms=t0,
        end_ms=t0 + 1000,
        plan=plan,
        exporter="officer1",
        manifest_extra={},
    )
    assert result.passphrase_generated and len(result.passphrase) >= 30
    contents = open_package(result.path.read_bytes(), result.passphrase)
    frames = _grey_frames(next(iter(contents.files.values())))
    assert len(frames) == 25
    assert all(covers(find_faces(f), FACE_CENTRE) for f in frames)


def test_export_refusals(ctx: AppContext, stored: tuple[int, list[Segment]]) -> None:
    t0, _ = stored
    common = {"plan": MaskPlan(), "exporter": "officer1", "manifest_extra": {}}
    with pytest.raises(NotFound, match="none of the cameras has footage"):
        make_export(ctx, camera_ids=["cam02"], start_ms=t0, end_ms=t0 + 1000, **common)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed, match="covers at most"):
        make_export(ctx, camera_ids=["cam01"], start_ms=t0, end_ms=t0 + 3_601_000, **common)  # type: ignore[arg-type]
    ctx.vault.set_passphrase("vault passphrase 1")
    ctx.vault.lock()
    with pytest.raises(VaultLocked):
        make_export(ctx, camera_ids=["cam01"], start_ms=t0, end_ms=t0 + 1000, **common)  # type: ignore[arg-type]
    assert list(ctx.settings.exports_dir.iterdir()) == []
