"""The policy page in Debian's Chromium on the example configuration (30 cameras): Korean and
English, publishing a version as the officer (the admin reads but may not publish), and the
printable texts through Chromium's print-to-PDF (one A4 page per sign)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from appliance.access import AccessService, Principal
from appliance.context import AppContext
from appliance.models import Role
from tests.support.policy import example_service, example_settings
from tests.support.recorder import wait_for
from tests.support.users import PASSWORD

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, AppContext]]:
    tmp = tmp_path_factory.mktemp("policy")
    service = example_service(example_settings(tmp))
    ctx = AppContext(service.settings, service.db, service.clock)
    app = create_app(ctx)
    access: AccessService = app.state.access
    root = Principal.local("root")
    for username, role, name in (("lee", Role.officer, "이승우"), ("boss", Role.admin, "유하늘")):
        access.create_user(
            root,
            username=username,
            role=role,
            display_name=name,
            department="원장단",
            title="원장",
            phone="055-338-7585",
            password=PASSWORD,
        )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 15, "uvicorn")
    yield f"http://127.0.0.1:{port}", ctx
    server.should_exit = True
    thread.join(timeout=10)
    ctx.close()


@pytest.fixture
def browser(chromium: Any) -> Any:
    """The session's one Chromium (tests/browser/conftest.py): a second Playwright in the same
    process would run its sync API inside the first one's event loop."""
    return chromium


def _signed_in(browser: Any, url: str, username: str, locale: str) -> tuple[Any, list[str]]:
    context = browser.new_context(
        base_url=url, locale=locale, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.goto("/policy")
    page.wait_for_url("**/login**")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/policy")
    return page, errors


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_policy_page_publish_and_print(box: tuple[str, AppContext], browser: Any) -> None:
    url, _ = box
    page, errors = _signed_in(browser, url, "lee", "ko-KR")
    assert page.locator("#policy-state").inner_text().startswith("아직 게시된 방침이 없습니다")
    body = page.locator(".policy-text").inner_text()
    assert "설치 대수: 30대" in body and "이승우" in body and "4층 수술실 1" in body
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#publish-form button[type=submit]")
    page.wait_for_selector("#policy-state.ok")
    assert "제1판" in page.locator("#policy-state").inner_text()
    assert page.locator(".policy-history tbody tr").count() == 1
    page.screenshot(path=str(SHOTS / "policy-ko.png"), full_page=False)
    page.goto("/policy?lang=en")
    assert "Published version 1 matches" in page.locator("#policy-state").inner_text()
    assert "Number of cameras: 30" in page.locator(".policy-text").inner_text()
    page.screenshot(path="/tmp/policy-en.png", full_page=False)
    # Printing: one A4 page per sign (17 location groups), the annex on its own.
    printed = page.goto("/policy/print?what=signs&lang=ko")
    assert printed is not None and printed.status == 200
    assert page.locator("section.page").count() == 17
    pdf = page.pdf(format="A4", print_background=True)
    assert _pdf_pages(pdf) == 17
    page.screenshot(path="/tmp/policy-sign.png")
    page.goto("/policy/print?what=annex&lang=ko")
    assert "기준일자" in page.inner_text("body")
    assert _pdf_pages(page.pdf(format="A4")) == 1
    page.goto("/policy/print?what=policy&lang=en")
    assert _pdf_pages(page.pdf(format="A4")) >= 3
    assert errors == []


def test_an_admin_reads_but_may_not_publish(box: tuple[str, AppContext], browser: Any) -> None:
    url, _ = box
    page, errors = _signed_in(browser, url, "boss", "en-US")
    assert page.locator("#publish-form").count() == 0
    status = page.evaluate(
        """async () => (await fetch('/api/policy/publish', {method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token':
        document.querySelector('meta[name=csrf-token]').content}, body: '{}'})).status"""
    )
    assert status == 403
    assert errors == []
