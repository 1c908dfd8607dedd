"""The request desk in Debian's Chromium, in Korean, through the pages only (issue 14):
(a) a walk-in data subject asking to view: received, identity checked, decided, notice issued
and printed, a masked copy made with one rectangle drawn by hand in the mask editor, shown in
the viewing room, closed, and the hold released by retention once the grace period has passed
(on a fake clock); (b) a police request through the agency API appears on the open list at
once, is decided, its masked package is built and handed over on the mask editor page, and the
agency downloads it through the agency API; (c) a refusal for destroyed footage citing the
destruction record. English is checked on the list and a request page; the management ledger
rows of the three requests are complete and their masking column is true only where a masked
copy was played or handed over; no console error anywhere.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from api.web import translations
from appliance.access import Principal, Scope
from appliance.ledger import EventType
from appliance.ledger.management import ManagementQuery, management_rows
from appliance.models import FootageRequest, RequestExport, Role
from appliance.retention import Retention, get_hold
from tests.support.astronaut import astronaut_clip, store_segment
from tests.support.browser import Site
from tests.support.desk import drag_rectangle, local_time, release_holds_at, sign_in, small_shot

KO = translations("ko")
EN = translations("en")
# DESK_SCREENSHOTS=docs/screenshots refreshes the docs' pictures from this walk.
SHOTS = Path(os.environ.get("DESK_SCREENSHOTS", os.path.join(tempfile.gettempdir(), "desk-shots")))
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def _local(site: Site, ms: int, fmt: str = "%Y-%m-%dT%H:%M:%S") -> str:
    return local_time(site, ms, fmt)


def _submit_and_reload(page: Any, form: str) -> None:
    """Submit a desk form; the page reloads on success. A refusal stays on the page: say it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        # The call and the reload share two cores with the other test worker: room for both.
        with page.expect_navigation(timeout=45_000):
            page.click(f"{form} button[type=submit]")
    except PlaywrightTimeout as exc:
        shown = page.locator(f"{form} .form-error").all_inner_texts()
        raise AssertionError(f"{form} did not reload the page; it shows {shown!r}") from exc


def _states(site: Site, rid: int) -> list[str]:
    entries = site.ctx.ledger.entries(
        refs=[str(rid)], events=[EventType.request_received, EventType.request_state]
    )
    return [str(e.data.get("state", "received")) for e in entries]


def _receive(site: Site, page: Any, **values: Any) -> int:
    page.click("#new-request")
    page.wait_for_url("**/requests/new")
    page.select_option("#channel", values.get("channel", "in_person"))
    page.select_option("#requester-kind", values["requester_kind"])
    page.select_option("#kind", values["kind"])
    page.fill("#requester-name", values["name"])
    page.fill("#requester-contact", "010-1234-5678")
    page.select_option("#requester-language", values.get("language", "ko"))
    page.check(f'input[name="camera_ids"][value="{values["camera"]}"]')
    page.fill("#start", _local(site, values["start_ms"]))
    page.fill("#end", _local(site, values["end_ms"]))
    page.fill("#purpose", values["purpose"])
    if values.get("id_file"):
        page.set_input_files(
            "#file-id", files=[{"name": "신분증.png", "mimeType": "image/png",
                                "buffer": b"\x89PNG\r\n\x1a\n id copy"}]
        )  # fmt: skip
    page.click("#receipt-submit")
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def _identity(page: Any, document: str) -> None:
    page.fill("#id-document", document)
    _submit_and_reload(page, "#identity-form")
    page.wait_for_selector("#identity-done")


def _notify(page: Any) -> None:
    page.select_option("#n-channel", "in_person")
    _submit_and_reload(page, "#notice-form")
    page.wait_for_selector("a.notice-print")


def _mask_and_build(page: Any, rid: int) -> None:
    """On the mask editor page: draw one rectangle by hand, build the package, wait for it."""
    page.click("#mask-link")
    page.wait_for_url(f"**/requests/{rid}/mask")
    assert page.inner_text("h1") == KO["mask.title"].replace("{id}", str(rid))
    page.wait_for_selector("#mask-stage:not([hidden])")
    drag_rectangle(page)
    assert page.locator("#mask-regions li.region-officer").count() == 1
    page.click("#mask-build")
    page.wait_for_selector("#mask-built:not([hidden])", timeout=180_000)
    assert page.inner_text("#mask-built-passphrase").strip()


def _export_of(site: Site, rid: int) -> RequestExport:
    with site.ctx.db.session() as session:
        (export,) = session.exec(select(RequestExport).where(RequestExport.request_id == rid)).all()
    return export


@pytest.mark.slow  # three requests walked end to end in both languages (~35 s)
def test_the_desk_walks_three_requests(site: Site, open_tab: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = site.ctx
    now = ctx.clock.now_ms()
    tab = open_tab()
    page = tab.page
    sign_in(tab, "officer")
    assert page.inner_text("h1") == KO["desk.list.title"]

    # (a) A walk-in subject asks to view two seconds of the corridor three hours ago.
    seen = now - 3 * HOUR_MS
    store_segment(ctx, "cam02", seen, astronaut_clip(2))
    rid_a = _receive(
        site, page, requester_kind="subject", kind="viewing", name="김민수", camera="cam02",
        start_ms=seen, end_ms=seen + 2000, purpose="복도에서 넘어진 장면 확인", id_file=True,
    )  # fmt: skip
    assert page.inner_text("#state-badge").startswith(KO["desk.state.received"])
    assert "신분증.png" in page.inner_text("#documents")
    page.wait_for_selector('#footage .tl-bar[data-drawn="true"] .tl-span.rec')
    page.wait_for_selector('#footage .tl-bar[data-drawn="true"] .tl-span.hold')
    _identity(page, "주민등록증")
    assert KO["desk.next.decide"] in page.inner_text("#next-step")
    assert page.input_value("#d-decision") == "accepted"  # the proposal, pre-filled
    page.fill("#d-viewing", _local(site, now + DAY_MS, "%Y-%m-%dT%H:%M"))
    page.fill("#d-place", "본원 3층 회의실")
    page.fill("#d-officer", "김보호")
    _submit_and_reload(page, "#decision-form")
    assert KO["desk.decision.accepted"] in page.inner_text("#decision-facts")
    with page.expect_popup() as preview:
        page.click("#notice-preview")
    assert "통지서" in preview.value.content()
    preview.value.close()
    _notify(page)
    with page.expect_popup() as printed:
        page.click("a.notice-print")
    assert "열람" in printed.value.content() and "김민수" in printed.value.content()
    printed.value.close()
    assert page.inner_text("#state-badge").startswith(KO["desk.state.notified"])
    page.evaluate("window.scrollTo(0, 0)")
    small_shot(page, str(SHOTS / "desk-request-ko.png"), full_page=False)

    # The masked copy: one rectangle drawn by hand, then the package, then the viewing room.
    _mask_and_build(page, rid_a)
    small_shot(page, str(SHOTS / "mask-editor-ko.png"))
    export_a = _export_of(site, rid_a)
    assert export_a.masked_boxes > 0
    page.click("#mask-room")
    page.wait_for_url(f"**/requests/{rid_a}/viewing-room")
    assert page.inner_text("h1") == KO["room.title"].replace("{id}", str(rid_a))
    page.fill("#room-witness", "이입회")
    page.click("#room-start-button")
    page.wait_for_selector("#room-player:not([hidden])")
    page.wait_for_function("document.getElementById('room-video').readyState >= 2")
    small_shot(page, str(SHOTS / "viewing-room-ko.png"))
    (shown,) = ctx.ledger.entries(events=[EventType.onsite_viewing], refs=[str(rid_a)])
    assert shown.data["export_id"] == export_a.id and shown.data["witness"] == "이입회"

    # Closed at the desk; the hold stays for the grace period, then retention releases it.
    page.goto(f"/requests/{rid_a}")
    assert page.inner_text("#state-badge").startswith(KO["desk.state.fulfilled"])
    page.fill("#close-note", "열람 완료")
    _submit_and_reload(page, "#close-form")
    page.wait_for_selector("#closed")
    assert _states(site, rid_a) == [
        "received", "identity_verified", "decided", "notified", "fulfilled", "closed",
    ]  # fmt: skip
    seqs = page.eval_on_selector_all("#history li", "els => els.map(e => +e.dataset.seq)")
    assert seqs == sorted(seqs) and len(seqs) >= 7  # receipt, hold, document, 5 changes
    with ctx.db.session() as session:
        request_a = session.get(FootageRequest, rid_a)
        assert request_a is not None and request_a.hold_id is not None
        assert request_a.closed_ms is not None
        hold = get_hold(session, request_a.hold_id).hold
    grace_ms = ctx.settings.requests.hold_grace_days * DAY_MS
    assert grace_ms > 0 and hold.expires_ms == request_a.closed_ms + grace_ms
    hold_state = page.inner_text("#hold-state")
    assert hold_state.startswith(KO["desk.hold.active"])
    assert _local(site, hold.expires_ms, "%Y-%m-%d") in hold_state
    assert request_a.hold_id not in release_holds_at(site, hold.expires_ms - 1000)
    assert request_a.hold_id in release_holds_at(site, hold.expires_ms)
    page.reload()
    released = KO["desk.hold.released"].split("{time}")[0]
    assert page.inner_text("#hold-state").startswith(released)
    assert "retention" in page.inner_text("#hold-state")

    # (b) A police request through the agency API shows on the open list at once.
    page.goto("/requests")
    root = Principal.local("root")
    agency, _ = site.access.create_user(
        root, username="police1", role=Role.agency, display_name="강남서", password="x" * 14
    )
    assert agency.id is not None
    token = site.access.issue_token(
        root, agency.id, name="t",
        scopes=[Scope.requests_read, Scope.requests_write, Scope.exports_read], ttl_days=1,
    ).token  # fmt: skip
    bearer = {"Authorization": f"Bearer {token}"}
    payload = {
        "kind": "copy", "requester_kind": "police", "requester_name": "경위 박수사",
        "requester_org": "서울강남경찰서", "letter_reference": "강남서 수사과-1234",
        "purpose": "절도 사건 수사", "camera_ids": ["cam01"],
        "start_ms": now - 6000, "end_ms": now - 3000,
    }  # fmt: skip
    answer = httpx.post(
        f"{site.url}/api/agency/requests",
        headers=bearer,
        data={"request": json.dumps(payload)},
        files={"letter": ("공문.pdf", b"%PDF-1.4 letter", "application/pdf")},
    )
    assert answer.status_code == 201, answer.text
    rid_b = answer.json()["id"]
    page.wait_for_selector("#arrived-notice:not([hidden])", timeout=15_000)
    assert f"#{rid_b}" in page.inner_text("#arrived-notice")
    page.click("#arrived-reload")
    page.wait_for_selector(f'tr[data-id="{rid_b}"] .badge.new')
    small_shot(page, str(SHOTS / "desk-list-ko.png"), full_page=False)
    page.click(f'tr[data-id="{rid_b}"] a')
    page.wait_for_url(f"**/requests/{rid_b}")
    _identity(page, "공문")
    _submit_and_reload(page, "#decision-form")  # the proposal: accepted, the whole range
    assert KO["desk.decision.accepted"] in page.inner_text("#decision-facts")
    _notify(page)
    # The masked package, built and handed over on the mask editor page.
    _mask_and_build(page, rid_b)
    export_b = _export_of(site, rid_b)
    assert export_b.masked_boxes > 0
    page.wait_for_selector("#handover-submit:not([disabled])")
    page.select_option("#handover-export", export_b.id)
    page.fill("#handover-recipient", "경위 박수사")
    page.fill("#handover-form", "USB 메모리")
    page.click("#handover-submit")
    page.wait_for_selector("#handover-result:not([hidden])")
    handed = [e.data for e in ctx.ledger.entries(refs=[str(rid_b)], events=[EventType.provision])]
    assert [(d["recipient"], d["form"]) for d in handed] == [("경위 박수사", "USB 메모리")]
    # ... and the agency downloads it through its API (a second provision).
    listed = httpx.get(f"{site.url}/api/agency/requests/{rid_b}/exports", headers=bearer)
    assert [e["id"] for e in listed.json()] == [export_b.id], listed.text
    package = httpx.get(
        f"{site.url}/api/agency/requests/{rid_b}/exports/{export_b.id}", headers=bearer
    )
    assert package.status_code == 200, package.text
    assert package.content == (ctx.settings.exports_dir / export_b.file).read_bytes()
    events = httpx.get(f"{site.url}/api/agency/requests/{rid_b}/events", headers=bearer).json()
    assert [e["state"] for e in events] == [
        "received", "identity_verified", "decided", "notified", "fulfilled",
    ]  # fmt: skip

    # (c) Footage of 40 days ago on cam02 was destroyed by retention: refused, citing it.
    old = now - 40 * 86_400_000
    store_segment(ctx, "cam02", old, astronaut_clip(1))
    Retention(ctx).run_cycle()
    page.goto("/requests")
    rid_c = _receive(
        site, page, requester_kind="representative", kind="copy", name="이영희", camera="cam02",
        start_ms=old, end_ms=old + 1000, purpose="어머니의 낙상 확인", language="en",
    )  # fmt: skip
    assert page.inner_text("#requester-language") == KO["desk.language.en"]
    _identity(page, "가족관계증명서")
    assert page.input_value("#d-decision") == "refused"
    assert page.input_value("#d-ground") == "destroyed"
    refs = page.input_value("#d-refs")
    assert refs and page.is_visible("#destroyed-table")
    _submit_and_reload(page, "#decision-form")
    facts = page.inner_text("#decision-facts")
    assert KO["desk.ground.destroyed"] in facts
    assert KO["desk.destroyed.ref"].replace("{id}", refs.split(",")[0].strip()) in facts
    # Her notice is in English (the requester's language), preview and print alike.
    with page.expect_popup() as preview:
        page.click("#notice-preview")
    assert "Notice of refusal" in preview.value.content()
    assert f"Destruction record #{refs.split(',')[0].strip()}" in preview.value.content()
    preview.value.close()
    _notify(page)
    with page.expect_popup() as printed:
        page.click("a.notice-print")
    assert "Notice of refusal" in printed.value.content() and "이영희" in printed.value.content()
    printed.value.close()
    _submit_and_reload(page, "#close-form")
    page.wait_for_selector("#closed")
    assert _states(site, rid_c) == [
        "received", "identity_verified", "decided", "notified", "closed",
    ]  # fmt: skip

    # The home page counts; English on the list and a request page.
    page.goto("/")
    page.wait_for_selector("#desk-summary")
    page.goto("/requests?closed=true&lang=en")
    assert page.inner_text("h1") == EN["desk.list.title"]
    assert page.is_visible(f'tr[data-id="{rid_c}"]')
    page.goto(f"/requests/{rid_b}")  # the language stays from the cookie
    assert EN["desk.detail.history"] in page.inner_text("#history")
    assert EN["desk.state.fulfilled"] in page.inner_text("#state-badge")
    page.evaluate("window.scrollTo(0, 0)")
    small_shot(page, str(SHOTS / "desk-request-en.png"), full_page=False)
    page.goto("/requests/form?lang=ko")
    assert "열람신청서" in page.inner_text("#application-form")
    assert not tab.errors, tab.errors

    # The management ledger has every step of the three requests, and its masking column
    # says "applied" only where a masked copy was played (a) or handed over (b).
    rids = [str(r) for r in (rid_a, rid_b, rid_c)]
    received = ctx.ledger.entries(refs=rids, events=[EventType.request_received])
    assert len(received) == 3
    assert _states(site, rid_b) == [
        "received", "identity_verified", "decided", "notified", "fulfilled",
    ]  # fmt: skip
    rows = management_rows(ctx.ledger, ManagementQuery(from_ms=now - DAY_MS, to_ms=now + DAY_MS))
    mine = {
        int(e.seq) for e in ctx.ledger.entries(refs=[*rids, export_a.id, export_b.id], limit=None)
    }
    by_kind: dict[str, list[Any]] = {}
    for row in rows:
        if row.seq in mine:
            by_kind.setdefault(row.kind, []).append(row)
    masked = {row.seq: row.masking for group in by_kind.values() for row in group if row.masking}
    shown_or_handed = {
        e.seq
        for e in ctx.ledger.entries(
            refs=[*rids, export_a.id, export_b.id],
            events=[EventType.onsite_viewing, EventType.provision, EventType.export_created],
            limit=None,
        )
    }
    assert set(masked) == shown_or_handed and set(masked.values()) == {"적용"}
    assert len(shown_or_handed) == 5  # a: made, shown; b: made, handed over, downloaded
    request_rows = [r for group in by_kind.values() for r in group if r.received]
    assert len(request_rows) == 3
    for row in request_rows:
        assert row.requester_kind and row.identity_check and row.due and row.decision
        assert row.notice, row
    (refused,) = [r for r in request_rows if r.refusal_reason]
    assert refused.decision and refused.counterpart == "이영희"
    (viewing_row,) = [r for r in request_rows if "본원 3층 회의실" in r.viewing_schedule]
    assert viewing_row.counterpart == "김민수"
