"""The administrator's pages in Debian's Chromium against the real app: an account created and
granted a camera through the pages, an admin refused an officer account, TOTP enrolment with a
code computed from the QR code on the page, and a locked vault unlocked through the page from
loopback, after which viewing starts. Korean and English; screenshots for docs/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np
import pytest

from api.web import translations
from appliance.access import Principal, totp
from appliance.clock import SystemClock
from appliance.ledger import EventType
from appliance.models import Role
from tests.support.browser import Site, Tab
from tests.support.recorder import segments_of
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser

KO = translations("ko")
EN = translations("en")
PASSPHRASE = "a passphrase after the power cut"
# Set SCREENSHOTS=docs/screenshots to refresh the documentation's pictures.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/accounts-screens"))


def _sign_in(tab: Tab, username: str, path: str) -> None:
    tab.goto(path)
    page = tab.page
    page.wait_for_url("**/login**")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_response("**/api/auth/login"):
        page.click("#login-form button[type=submit]")
    page.wait_for_url(f"**{path}")


def _account(site: Site, username: str, role: Role) -> int:
    if username not in site.users:
        user, _ = site.access.create_user(
            Principal.local("root"),
            username=username,
            role=role,
            display_name=username.title(),
            password=PASSWORD,
            department="원무과",
        )
        assert user.id is not None
        site.users[username] = user.id
    return site.users[username]


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_admin_creates_an_account_and_grants_a_camera(site: Site, open_tab: Any) -> None:
    _account(site, "admin2", Role.admin)
    tab = open_tab("ko-KR")
    page = tab.page
    _sign_in(tab, "admin2", "/accounts")
    assert page.inner_text("h1") == KO["accounts.title"]
    assert "guard" in page.inner_text("#accounts")

    page.fill("#username", "nurse1")
    page.fill("#display_name", "김간호")
    page.select_option("#role", "viewer")
    page.fill("#department", "간호부")
    with page.expect_response("**/api/users") as answer:
        page.click("#create-form button[type=submit]")
    assert answer.value.status == 201
    page.wait_for_selector("#created:not([hidden])")
    generated = page.inner_text("#created-password")
    assert len(generated) >= 12
    _shot(page, "accounts-ko.png")
    page.click("#created-link")
    page.wait_for_url("**/accounts/*")
    nurse = site.access.user_id_by_name("nurse1")
    assert page.url.endswith(f"/accounts/{nurse}")

    # Grants: every camera by name and location, ticked one by one.
    grants = page.inner_text("#grants-form")
    assert "1층 로비" in grants and "2층 복도" in grants
    page.check("#grant-cam01")
    with page.expect_response(f"**/api/users/{nurse}/grants") as answer:
        page.click("#grants-form button[type=submit]")
    assert answer.value.status == 200
    page.wait_for_load_state("load")
    assert site.access.granted_cameras(nurse) == ["cam01"]
    page.wait_for_selector("#grant-cam01[data-granted=yes]")
    assert page.is_checked("#grant-cam01") and not page.is_checked("#grant-cam02")
    _shot(page, "account-ko.png")
    assert tab.errors == []


def test_an_admin_cannot_create_an_officer_through_the_page(site: Site, open_tab: Any) -> None:
    _account(site, "admin3", Role.admin)
    tab = open_tab("en-US")
    page = tab.page
    _sign_in(tab, "admin3", "/accounts")
    officer = page.locator("#role option[value=officer]")
    assert officer.is_disabled() and page.locator("#role option[value=admin]").is_disabled()
    assert EN["accounts.reason.needs_officer"] in officer.inner_text()
    # Even with the option forced on in the page, the appliance refuses.
    page.evaluate("document.querySelector('#role option[value=officer]').disabled = false")
    page.fill("#username", "boss1")
    page.fill("#display_name", "Boss")
    page.select_option("#role", "officer")
    with page.expect_response("**/api/users") as answer:
        page.click("#create-form button[type=submit]")
    assert answer.value.status == 403
    # The page writes the refusal after the answer arrives (on a loaded machine, later).
    page.wait_for_function("document.getElementById('create-error').textContent !== ''")
    assert page.inner_text("#create-error") == EN["accounts.error.officer_only"]
    _shot(page, "accounts-en.png")
    assert "boss1" not in {u.username for u in site.access.list_users(Principal.local("t"))}
    assert tab.errors == []


def _decode_qr(png: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)


def test_totp_enrolment_with_a_code_from_the_qr_code(site: Site, open_tab: Any) -> None:
    _account(site, "enrol1", Role.viewer)
    tab = open_tab("en-US")
    page = tab.page
    _sign_in(tab, "enrol1", "/account/security")
    assert page.inner_text("#totp-state") == EN["security.off"]
    with page.expect_response("**/api/auth/totp/setup"):
        page.click("#totp-start")
    page.wait_for_selector("#enrol:not([hidden])")
    page.wait_for_function("document.getElementById('totp-qr').naturalWidth > 0")
    _shot(page, "totp-en.png")
    uri = _decode_qr(page.locator("#totp-qr").screenshot())
    assert uri.startswith("otpauth://totp/"), uri
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    assert secret == page.inner_text("#totp-secret")

    page.fill("#totp-code", totp.totp(secret, SystemClock().now_ms()))
    with page.expect_response("**/api/auth/totp/confirm") as answer:
        page.click("#confirm-form button[type=submit]")
    assert answer.value.status == 200
    page.wait_for_selector("#recovery:not([hidden])")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    user = site.access.get_user(Principal.local("t"), site.users["enrol1"])
    assert user.totp_secret == secret
    # A recovery code from the page signs in once in place of a code from the app.
    page.click("#signout")
    page.wait_for_url("**/login?signed_out=true")
    page.fill("#username", "enrol1")
    page.fill("#password", PASSWORD)
    page.fill("#totp", codes[0])
    with page.expect_response("**/api/auth/login") as signed:
        page.click("#login-form button[type=submit]")
    assert signed.value.status == 200
    page.wait_for_url(f"{site.url}/")
    tab.goto("/account/security")
    assert page.inner_text("#totp-state") == EN["security.on"].replace("{left}", "9")
    assert tab.errors == []


@pytest.fixture
def locked_vault(site: Site) -> Iterator[None]:
    vault = site.ctx.vault
    if not vault.has_passphrase:
        vault.set_passphrase(PASSPHRASE)
    site.ctx.vault_keeper.lock("test")
    try:
        yield
    finally:
        if not vault.is_unlocked:  # leave the session's site as it was: viewing works
            site.ctx.vault_keeper.unlock(PASSPHRASE, "test")


def _open_viewing(page: Any, site: Site) -> Any:
    segment = segments_of(site.ctx, "cam01")[0]
    csrf = page.get_attribute('meta[name="csrf-token"]', "content")
    return page.request.post(
        "/api/viewing",
        headers={"X-CSRF-Token": csrf},
        data={
            "kind": "playback",
            "cameras": ["cam01"],
            "start_ms": segment.start_ms,
            "end_ms": segment.end_ms,
            "purpose": {"category": "maintenance", "text": "정전 뒤 녹화 확인"},
        },
    )


def test_a_locked_vault_is_unlocked_through_the_page(
    site: Site, open_tab: Any, locked_vault: None
) -> None:
    tab = open_tab("ko-KR")
    page = tab.page
    _sign_in(tab, "officer", "/vault")
    assert page.inner_text("#vault-state") == KO["vault.locked"]
    assert page.locator("#vault-refusal").count() == 0  # loopback: allowed
    assert _open_viewing(page, site).status == 423  # locked: nothing to view yet

    page.fill("#passphrase", "not the passphrase")
    with page.expect_response("**/api/vault/unlock") as answer:
        page.click("#vault-form button[type=submit]")
    assert answer.value.status == 401
    assert page.inner_text("#vault-error") == KO["vault.error.wrong"]
    page.fill("#passphrase", PASSPHRASE)
    with page.expect_response("**/api/vault/unlock") as answer:
        page.click("#vault-form button[type=submit]")
    assert answer.value.status == 200
    page.wait_for_selector("#vault-done:not([hidden])")
    _shot(page, "vault-ko.png")
    assert site.ctx.vault.is_unlocked
    opened = _open_viewing(page, site)
    assert opened.status == 201, opened.text()
    viewing_id = opened.json()["id"]
    media = page.request.get(f"/api/viewing/{viewing_id}/media?camera_id=cam01")
    assert media.status == 200 and len(media.body()) > 1000
    entries = site.ctx.ledger.entries(events=(EventType.vault_unlocked,), limit=None)
    assert entries[-1].actor == "officer"
    assert tab.errors == []
