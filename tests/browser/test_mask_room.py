"""The mask editor and the on-site viewing room in Chromium, in Korean: the officer draws one
rectangle by hand on a sample frame, previews, builds the package, and plays it in the viewing
room; the ledger's on-site viewing says masking true, and the drawn area really is masked in
the package. Without a masked copy the room refuses."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import cv2
import numpy as np
from sqlmodel import select

from api.web import translations
from appliance.access import Principal, Via
from appliance.export.package import open_package
from appliance.ledger import EventType
from appliance.models import RequestExport, Role, ViewingSession
from appliance.requests import (
    Channel,
    Decision,
    DecisionInput,
    NewRequest,
    RequesterKind,
    RequestKind,
    RequestService,
)
from tests.support.astronaut import astronaut_clip, decode_grey, store_segment
from tests.support.browser import Site, Tab
from tests.support.desk import sign_in
from tests.support.footage import decode_clip

KO = translations("ko")
EN = translations("en")
SHOTS = os.environ.get("MASK_SCREENSHOTS", "/tmp")
HOUR_MS = 3_600_000
# Where the officer drags, as fractions of the frame: the lower right (her suit and the
# flag), away from the face the detectors mask anyway.
DRAG = ((0.55, 0.62), (0.9, 0.92))


def _officer(site: Site) -> Principal:
    return Principal(
        user_id=site.users["officer"], username="officer", role=Role.officer, via=Via.session
    )


def _notified_viewing(site: Site, start_ms: int) -> int:
    """A subject's viewing request of cam02 at ``start_ms`` (2 s of the astronaut), notified."""
    ctx, officer = site.ctx, _officer(site)
    store_segment(ctx, "cam02", start_ms, astronaut_clip(2))
    service = RequestService(ctx)
    new = NewRequest(
        RequestKind.viewing, RequesterKind.subject, "홍길동", ("cam02",), start_ms, start_ms + 2000
    )
    request = service.receive(officer, new)
    assert request.id is not None
    service.verify_identity(officer, request.id, id_document="주민등록증", checked_by="officer")
    decision = DecisionInput(
        Decision.accepted,
        viewing_ms=ctx.clock.now_ms() + HOUR_MS,
        viewing_place="본원 3층 회의실",
        officer="김보호",
    )
    service.decide(officer, request.id, decision)
    service.notify(officer, request.id, channel=Channel.in_person)
    return request.id


def _drag(page: Any) -> None:
    page.locator("#mask-overlay").scroll_into_view_if_needed()
    box = page.locator("#mask-overlay").bounding_box()
    (x0, y0), (x1, y1) = DRAG
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
    page.mouse.down()
    for step in range(1, 6):  # a hand's drag: several moves
        f = step / 5
        page.mouse.move(
            box["x"] + (x0 + (x1 - x0) * f) * box["width"],
            box["y"] + (y0 + (y1 - y0) * f) * box["height"],
        )
    page.mouse.up()


def _shot(page: Any, name: str) -> None:
    """A small PNG of the whole page (half size) for the docs."""
    png = page.screenshot(full_page=True)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    small = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    cv2.imwrite(os.path.join(SHOTS, name), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def _roughness(grey: np.ndarray, rect: tuple[int, int, int, int]) -> float:
    """Mean absolute difference between horizontal neighbours inside ``rect``: texture."""
    x, y, w, h = rect
    roi = grey[y : y + h, x : x + w].astype(np.int16)
    return float(np.mean(np.abs(np.diff(roi, axis=1))))


def test_officer_masks_by_hand_then_shows_the_copy_in_the_viewing_room(
    site: Site, open_tab: Any
) -> None:
    ctx = site.ctx
    start = ctx.clock.now_ms() - HOUR_MS
    rid = _notified_viewing(site, start)
    tab: Tab = open_tab()
    page = tab.page
    sign_in(tab, "officer", path=f"/requests/{rid}/mask")
    page.wait_for_url(f"**/requests/{rid}/mask")
    assert page.inner_text("h1") == KO["mask.title"].replace("{id}", str(rid))
    page.wait_for_selector("#mask-strip li >> nth=5")  # six sample frames
    # Frames were seen through a viewing session opened for the request, ledgered first.
    with ctx.db.session() as session:
        viewing = session.exec(
            select(ViewingSession).where(ViewingSession.request_ref == str(rid))
        ).first()
    assert viewing is not None
    opened = ctx.ledger.entries(
        events=[EventType.view_recorded_start], refs=[f"view:{viewing.id}"], limit=None
    )
    assert len(opened) == 1 and opened[0].data["request_id"] == str(rid)

    page.wait_for_selector("#mask-stage:not([hidden])")
    _drag(page)
    assert page.locator("#mask-regions li.region-officer").count() == 1
    assert page.locator("#mask-overlay .box-officer").count() == 1
    page.click("#mask-preview")
    page.wait_for_selector("#mask-status.ok", timeout=60_000)
    page.wait_for_function("document.getElementById('mask-video').readyState >= 2")
    _shot(page, "mask-editor-ko.png")

    page.click("#mask-build")
    page.wait_for_selector("#mask-built:not([hidden])", timeout=180_000)
    assert page.inner_text("#mask-built-passphrase").strip()
    with ctx.db.session() as session:
        (export,) = session.exec(select(RequestExport).where(RequestExport.request_id == rid)).all()
    assert export.masked_boxes > 0

    page.click("#mask-room")
    page.wait_for_url(f"**/requests/{rid}/viewing-room")
    page.fill("#room-witness", "이입회")
    page.click("#room-start-button")
    page.wait_for_selector("#room-player:not([hidden])")
    page.wait_for_function("document.getElementById('room-video').readyState >= 2")
    _shot(page, "viewing-room-ko.png")

    (shown,) = ctx.ledger.entries(events=[EventType.onsite_viewing], refs=[str(rid)], limit=None)
    assert shown.data["masking"] is True and shown.data["export_id"] == export.id
    assert shown.data["officer"] == "김보호" and shown.data["witness"] == "이입회"

    # The drawn rectangle is masked in the package: flat blocks where the source has texture.
    data = (ctx.settings.exports_dir / export.file).read_bytes()
    assert export.sealed_key is not None
    key = ctx.vault.open_segment_key(export.vault_key_id, export.sealed_key)
    contents = open_package(data, file_key=key)
    (item,) = contents.manifest["items"]
    (region,) = item["masking"]["officer_regions"]
    assert region["start_ms"] is not None  # held for the frame's span, not the whole range
    masked = decode_grey(contents.files[item["file"]])
    source = decode_clip(astronaut_clip(2), "h264")
    height, width = masked[0].shape
    inner = (
        int(region["x"] * width) + 4,
        int(region["y"] * height) + 4,
        int(region["w"] * width) - 8,
        int(region["h"] * height) - 8,
    )
    assert _roughness(source[0], inner) > 3  # her suit and the helmet: texture
    assert _roughness(masked[0], inner) < _roughness(source[0], inner) / 3

    # English on the same room (the language switch keeps the page).
    page.click(".room-bar a[hreflang=en]")
    page.wait_for_url("**lang=en**")
    assert page.inner_text("h1") == EN["room.title"].replace("{id}", str(rid))
    page.screenshot(path=os.path.join(tempfile.gettempdir(), "viewing-room-en.png"))
    page.goto(f"/requests/{rid}/mask")  # English kept (cookie); fulfilled: no new copy
    assert page.inner_text("h1") == EN["mask.title"].replace("{id}", str(rid))
    assert "before fulfilment" in page.inner_text("#mask-refusal")
    page.screenshot(path=os.path.join(tempfile.gettempdir(), "mask-en.png"), full_page=True)
    assert tab.errors == []


def test_without_a_masked_copy_the_room_refuses(site: Site, open_tab: Any) -> None:
    rid = _notified_viewing(site, site.ctx.clock.now_ms() - 2 * HOUR_MS)
    tab: Tab = open_tab()
    page = tab.page
    sign_in(tab, "officer", path=f"/requests/{rid}/viewing-room")
    page.wait_for_url(f"**/requests/{rid}/viewing-room")
    assert "no masked copy" in page.inner_text("#room-refusal")
    assert page.locator("#room-start").count() == 0
    csrf = page.get_attribute('meta[name="csrf-token"]', "content")
    refused = page.request.post(
        f"/api/requests/{rid}/onsite-viewing",
        data={"officer_present": "김보호"},
        headers={"X-CSRF-Token": csrf or ""},
    )
    assert refused.status == 422 and "masked only" in refused.text()
    assert not site.ctx.ledger.entries(
        events=[EventType.onsite_viewing], refs=[str(rid)], limit=None
    )
    assert tab.errors == []
