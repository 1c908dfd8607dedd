"""The request desk in Debian's Chromium, in Korean, through the pages only (issue 14):
(a) a walk-in data subject asking to view: received, identity checked, decided, notice issued
and printed, closed; (b) a police request through the agency API appears on the open list at
once and is decided; (c) a refusal for destroyed footage citing the destruction record.
English is checked on the list and a request page; the management ledger rows of the three
requests are complete; no console error anywhere.

The on-site viewing itself is the viewing room's (another part of the desk): (a) records it
through the JSON API, unmasked (``masked=False``: nothing was played here), before closing.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from api.web import translations
from appliance.access import Principal, Scope
from appliance.ledger import EventType
from appliance.models import Role
from appliance.retention import Retention
from tests.support.astronaut import astronaut_clip, store_segment
from tests.support.browser import Site, Tab
from tests.support.users import PASSWORD

KO = translations("ko")
EN = translations("en")
SHOTS = Path(os.environ.get("DESK_SCREENSHOTS", "/tmp/desk-shots"))


def _sign_in(tab: Tab, username: str) -> None:
    page = tab.page
    tab.goto("/requests")
    page.wait_for_url("**/login**")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_response("**/api/auth/login"):
        page.click("#login-form button[type=submit]")
    page.wait_for_url("**/requests")


def _local(site: Site, ms: int, fmt: str = "%Y-%m-%dT%H:%M:%S") -> str:
    return datetime.fromtimestamp(ms / 1000, tz=site.ctx.settings.zone).strftime(fmt)


def _submit_and_reload(page: Any, form: str) -> None:
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")


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
    page.check(f'input[name="camera_ids"][value="{values["camera"]}"]')
    page.fill("#start", _local(site, values["start_ms"]))
    page.fill("#end", _local(site, values["end_ms"]))
    page.fill("#purpose", values["purpose"])
    if values.get("id_file"):
        page.set_input_files(
            "#file-id", files=[{"name": "신분증.png", "mimeType": "image/png",
                                "buffer": b"\x89PNG id copy"}]
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


def test_the_desk_walks_three_requests(site: Site, open_tab: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = site.ctx
    now = ctx.clock.now_ms()
    tab = open_tab()
    page = tab.page
    _sign_in(tab, "officer")
    assert page.inner_text("h1") == KO["desk.list.title"]

    # (a) A walk-in subject asks to view the lobby a few seconds ago.
    rid_a = _receive(
        site, page, requester_kind="subject", kind="viewing", name="김민수", camera="cam01",
        start_ms=now - 6000, end_ms=now - 2000, purpose="로비에서 넘어진 장면 확인", id_file=True,
    )  # fmt: skip
    assert page.inner_text("#state-badge").startswith(KO["desk.state.received"])
    assert "신분증.png" in page.inner_text("#documents")
    page.wait_for_selector('#footage .tl-bar[data-drawn="true"] .tl-span.rec')
    page.wait_for_selector('#footage .tl-bar[data-drawn="true"] .tl-span.hold')
    _identity(page, "주민등록증")
    assert KO["desk.next.decide"] in page.inner_text("#next-step")
    assert page.input_value("#d-decision") == "accepted"  # the proposal, pre-filled
    page.fill("#d-viewing", _local(site, now + 86_400_000, "%Y-%m-%dT%H:%M"))
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
    page.screenshot(path=str(SHOTS / "desk-request-ko.png"))
    # The viewing room (another part of the desk) records the on-site viewing; here the API.
    officer = site.access.login("officer", PASSWORD).principal
    from appliance.requests import RequestService

    RequestService(ctx).record_onsite_viewing(
        officer, rid_a, officer_present="officer", note="no other person in the footage"
    )
    page.reload()
    page.fill("#close-note", "열람 완료")
    _submit_and_reload(page, "#close-form")
    page.wait_for_selector("#closed")
    assert _states(site, rid_a) == [
        "received", "identity_verified", "decided", "notified", "fulfilled", "closed",
    ]  # fmt: skip
    seqs = page.eval_on_selector_all("#history li", "els => els.map(e => +e.dataset.seq)")
    assert seqs == sorted(seqs) and len(seqs) >= 7  # receipt, hold, document, 5 changes

    # (b) A police request through the agency API shows on the open list at once.
    page.goto("/requests")
    root = Principal.local("root")
    agency, _ = site.access.create_user(
        root, username="police1", role=Role.agency, display_name="강남서", password="x" * 14
    )
    assert agency.id is not None
    token = site.access.issue_token(
        root, agency.id, name="t", scopes=[Scope.requests_read, Scope.requests_write],
        ttl_days=1,
    ).token  # fmt: skip
    payload = {
        "kind": "copy", "requester_kind": "police", "requester_name": "경위 박수사",
        "requester_org": "서울강남경찰서", "letter_reference": "강남서 수사과-1234",
        "purpose": "절도 사건 수사", "camera_ids": ["cam01"],
        "start_ms": now - 6000, "end_ms": now - 3000,
    }  # fmt: skip
    answer = httpx.post(
        f"{site.url}/api/agency/requests",
        headers={"Authorization": f"Bearer {token}"},
        data={"request": json.dumps(payload)},
        files={"letter": ("공문.pdf", b"%PDF-1.4 letter", "application/pdf")},
    )
    assert answer.status_code == 201, answer.text
    rid_b = answer.json()["id"]
    page.wait_for_selector("#arrived-notice:not([hidden])", timeout=15_000)
    assert f"#{rid_b}" in page.inner_text("#arrived-notice")
    page.click("#arrived-reload")
    page.wait_for_selector(f'tr[data-id="{rid_b}"] .badge.new')
    page.screenshot(path=str(SHOTS / "desk-list-ko.png"))
    page.click(f'tr[data-id="{rid_b}"] a')
    page.wait_for_url(f"**/requests/{rid_b}")
    _identity(page, "공문")
    _submit_and_reload(page, "#decision-form")  # the proposal: accepted, the whole range
    assert KO["desk.decision.accepted"] in page.inner_text("#decision-facts")
    _notify(page)
    events = httpx.get(
        f"{site.url}/api/agency/requests/{rid_b}/events",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert [e["state"] for e in events] == ["received", "identity_verified", "decided", "notified"]

    # (c) Footage of 40 days ago on cam02 was destroyed by retention: refused, citing it.
    old = now - 40 * 86_400_000
    store_segment(ctx, "cam02", old, astronaut_clip(1))
    Retention(ctx).run_cycle()
    page.goto("/requests")
    rid_c = _receive(
        site, page, requester_kind="representative", kind="copy", name="이영희", camera="cam02",
        start_ms=old, end_ms=old + 1000, purpose="어머니의 낙상 확인",
    )  # fmt: skip
    _identity(page, "가족관계증명서")
    assert page.input_value("#d-decision") == "refused"
    assert page.input_value("#d-ground") == "destroyed"
    refs = page.input_value("#d-refs")
    assert refs and page.is_visible("#destroyed-table")
    _submit_and_reload(page, "#decision-form")
    facts = page.inner_text("#decision-facts")
    assert KO["desk.ground.destroyed"] in facts
    assert KO["desk.destroyed.ref"].replace("{id}", refs.split(",")[0].strip()) in facts
    _notify(page)
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
    assert EN["desk.state.notified"] in page.inner_text("#state-badge")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "desk-request-en.png"))
    page.goto("/requests/form?lang=ko")
    assert "열람신청서" in page.inner_text("#application-form")
    assert not tab.errors, tab.errors

    # The management ledger has every step of the three requests.
    received = ctx.ledger.entries(
        refs=[str(r) for r in (rid_a, rid_b, rid_c)], events=[EventType.request_received]
    )
    assert len(received) == 3
    viewing = ctx.ledger.entries(refs=[str(rid_a)], events=[EventType.onsite_viewing])
    assert len(viewing) == 1 and viewing[0].data["masking"] is False
