"""The ledger page (/ledger): without a browser, its translations, refusals and rendering; in
Debian's Chromium against the real app, an auditor reads a real viewing in the management ledger
with Korean headers, verifies the chain, downloads the CSV and switches to English."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.web import translations
from appliance.access import Principal, Scope
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.ledger.management import COLUMNS, KIND_LABELS, ManagementKind
from appliance.models import Role
from appliance.retention.destruction import HEADERS_KO
from appliance.viewing import PurposeCategory, ViewingService, ViewKind, make_purpose
from tests.support.browser import Site
from tests.support.users import PASSWORD

KO = translations("ko")
EN = translations("en")
SCREENSHOT = os.environ.get("LEDGER_SCREENSHOT", "/tmp/ledger.png")
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
DCOLS = (
    "id",
    "executed_at",
    "target",
    "footage_range",
    "segments",
    "size",
    "method",
    "reason",
    "executed_by",
    "note",
)


def test_korean_headers_are_the_ledgers_own() -> None:
    # The page's Korean headers and types are those of the CSV and the printed page.
    assert [KO[f"ledger.col.{name}"] for name, _ in COLUMNS] == [h for _, h in COLUMNS]
    assert tuple(KO[f"ledger.dcol.{name}"] for name in DCOLS) == HEADERS_KO
    assert {k: KO[f"ledger.kind.{k.value}"] for k in ManagementKind} == KIND_LABELS
    dynamic = (
        [f"ledger.col.{name}" for name, _ in COLUMNS]
        + [f"ledger.dcol.{name}" for name in DCOLS]
        + [f"ledger.kind.{k.value}" for k in ManagementKind]
        + [
            f"ledger.{part}.{tab}"
            for part in ("tab", "heading")
            for tab in ("management", "destruction")
        ]
    )
    assert not [key for key in dynamic if key not in KO or key not in EN]


@pytest.fixture
def client(ctx: AppContext) -> TestClient:
    app = create_app(ctx)
    root = Principal.local("root")
    ids = {}
    for username, role in (
        ("viewer1", Role.viewer),
        ("auditor1", Role.auditor),
        ("officer1", Role.officer),
        ("agency1", Role.agency),
    ):
        user, _ = app.state.access.create_user(
            root, username=username, role=role, display_name=username, password=PASSWORD
        )
        ids[username] = user.id
    issued = app.state.access.issue_token(
        root, ids["agency1"], name="t", scopes=[Scope.requests_read], ttl_days=1
    )
    app.state.agency_token = issued.token
    now = ctx.clock.now_ms()
    ctx.ledger.append(
        EventType.onsite_viewing,
        actor="officer1",
        ref="req-9",
        camera_id="cam01",
        data={
            "requester": "홍길동",
            "purpose": "본인 낙상 경위 확인",
            "cameras": ["cam01"],
            "from_ms": now - 3_600_000,
            "to_ms": now - 3_000_000,
            "officer": "김보호",
            "witness": "이입회",
            "place": "1층 상담실",
            "masking": True,
        },
    )
    return TestClient(app, follow_redirects=False)


def _sign_in(client: TestClient, username: str) -> None:
    answer = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text


def test_the_page_refuses_like_the_other_pages(client: TestClient) -> None:
    assert client.get("/ledger").status_code == 401
    page = client.get("/ledger?tab=destruction", headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fledger%3Ftab%3Ddestruction"
    _sign_in(client, "viewer1")
    assert client.get("/ledger").status_code == 403
    assert 'href="/ledger"' not in client.get("/", headers=HTML).text  # not in the menu either
    assert client.get("/ledger", headers=HTML).headers["location"] == "/?denied=1"
    bearer = {"Authorization": f"Bearer {client.app.state.agency_token}"}  # type: ignore[attr-defined]
    assert client.get("/ledger", headers={**bearer, **HTML}).status_code == 403


def test_the_page_shows_filters_and_refuses_bad_input_in_place(client: TestClient) -> None:
    _sign_in(client, "auditor1")
    page = client.get("/ledger", headers=HTML)
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    text = page.text
    assert f'<a href="/ledger">{KO["nav.ledger"]}</a>' in text  # the menu leads here
    assert '<th scope="col" data-field="seq">원장 번호</th>' in text
    assert 'data-kind="viewing"' in text and "홍길동" in text and "이입회" in text
    assert 'id="sign-head"' not in text  # auditors read, never sign
    assert 'href="/api/ledger/management?from=2026-03-01&amp;to=2026-03-01&amp;format=csv"' in text

    only_requests = client.get("/ledger?type=request", headers=HTML).text
    assert "홍길동" not in only_requests and KO["ledger.empty"] in only_requests

    # The language switch keeps every repeated filter.
    english = client.get("/ledger?type=viewing&type=use&person=%ED%99%8D", headers=HTML).text
    assert "홍길동" in english
    switch = next(
        line.split('href="')[1].split('"')[0].replace("&amp;", "&")
        for line in english.splitlines()
        if 'class="lang"' in line
    )
    query = parse_qsl(urlsplit(switch).query)
    assert ("type", "viewing") in query and ("type", "use") in query and ("lang", "en") in query
    assert (
        '<th scope="col" data-field="seq">Ledger no.</th>' in client.get(switch, headers=HTML).text
    )

    for bad in ("from=2026-02-30", "type=gossip", "camera=cam99", "from=2026-03-02&to=2026-03-01"):
        refused = client.get(f"/ledger?{bad}&lang=ko", headers=HTML)
        assert refused.status_code == 200, bad  # shown in the page, never a 500
        assert 'id="ledger-error"' in refused.text and "홍길동" not in refused.text, bad

    destruction = client.get("/ledger?tab=destruction", headers=HTML).text
    assert (
        'id="destruction-table"' in destruction and '<th scope="col">파기 방법</th>' in destruction
    )
    assert "/api/ledger/destruction?from=2026-03-01" in destruction

    _sign_in(client, "officer1")
    assert 'id="sign-head"' in client.get("/ledger", headers=HTML).text


@pytest.mark.browser
def test_auditor_reads_the_ledgers_in_korean_and_english(site: Site, open_tab: Any) -> None:
    ctx = site.ctx
    # A real viewing: the viewer "guard" looks at cam01 live and ends it.
    viewing = ViewingService(ctx.db, ctx.clock, ctx.settings, ctx.ledger, ctx.vault, ctx.live)
    guard = site.access.login("guard", PASSWORD).principal
    opened = viewing.open(
        guard,
        kind=ViewKind.live,
        cameras=["cam01"],
        purpose=make_purpose(PurposeCategory.safety.value, "원장 화면 점검용 실시간 열람"),
    )
    viewing.end(guard, opened.id or 0)
    (entry,) = ctx.ledger.entries(
        events=[EventType.view_live_start], refs=[f"view:{opened.id}"], limit=None
    )
    day = datetime.fromtimestamp(entry.ts_ms / 1000, tz=ctx.settings.zone).date().isoformat()

    tab = open_tab()
    page = tab.page
    tab.goto("/")
    page.wait_for_url("**/login**")
    page.fill("#username", "audit")
    page.fill("#password", PASSWORD)
    with page.expect_response("**/api/auth/login"):
        page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{site.url}/")
    page.click("#ledger-link")
    page.wait_for_url("**/ledger")
    assert page.inner_text("h1") == KO["ledger.title"]

    # The day of the viewing (the same as today unless the test straddles midnight).
    page.fill("#from", day)
    page.fill("#person", "guard")
    page.click("#apply")
    page.wait_for_url("**/ledger?**person=guard**")
    headers = page.locator("#management-table thead th").all_inner_texts()
    assert headers == [header for _, header in COLUMNS]
    row = page.locator(f'#management-table tr[data-seq="{entry.seq}"]')
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "열람" and cells[8] == "guard"
    assert "원장 화면 점검용 실시간 열람" in cells[7]
    assert " ~ " in cells[11] and cells[11].split(" ~ ")[1]  # ended: the end time is shown

    page.click("#verify")
    page.wait_for_selector("#verify-result.ok")
    assert page.inner_text("#verify-result").startswith(KO["ledger.verified"].split(":")[0])
    page.screenshot(path=SCREENSHOT, full_page=True)

    csv_href = page.get_attribute("#download-csv", "href")
    assert csv_href and "format=csv" in csv_href and "person=guard" in csv_href
    download = page.request.get(csv_href)  # the page's own session cookie
    assert download.status == 200 and download.body().startswith(b"\xef\xbb\xbf")
    assert "원장 번호" in download.body().decode("utf-8-sig").splitlines()[0]

    page.click("header .lang")
    page.wait_for_url("**lang=en**")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == EN["ledger.title"]
    headers = page.locator("#management-table thead th").all_inner_texts()
    assert headers[:3] == [EN["ledger.col.seq"], EN["ledger.col.kind"], EN["ledger.col.at"]]
    english_row = page.locator(f'#management-table tr[data-seq="{entry.seq}"] td')
    assert english_row.nth(1).inner_text() == EN["ledger.kind.viewing"]
    assert page.input_value("#person") == "guard"  # the filters survived the switch
    assert tab.errors == []
