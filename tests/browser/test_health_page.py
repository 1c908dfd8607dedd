"""The health page in Debian's Chromium against a real recorder and simulated cameras: every
camera's state, a camera stopped in the simulator turning to reconnecting and then raising the
camera_down alarm (in the header, and mailed to the local SMTP server), acknowledging it (in the
ledger), the locked vault, both languages; and the page's translations without a browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from api.web import translations
from appliance.alarms import AlarmKind
from appliance.models import LedgerEntry
from tests.support.health_site import DOWN_AFTER_S, PASSPHRASE, HealthSite, health_site
from tests.support.recorder import wait_for
from tests.support.smtp import body_of
from tests.support.users import PASSWORD

KO = translations("ko")
EN = translations("en")
# 30 cameras is the clinic of the issue; fewer when the machine is shared (HEALTH_CAMERAS=8).
CAMERAS = int(os.environ.get("HEALTH_CAMERAS", "30"))
SHOTS = Path(os.environ.get("HEALTH_SCREENSHOTS", "/tmp"))
CHROMIUM = "/usr/bin/chromium"


def test_every_alarm_kind_and_reason_has_its_text() -> None:
    from recorder.status import FailReason

    keys = [f"alarm.kind.{kind.value}" for kind in AlarmKind]
    keys += [f"health.reason.{reason.value}" for reason in FailReason if reason.value]
    for table in (KO, EN):
        assert not [key for key in keys if key not in table]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HealthSite]:
    with health_site(tmp_path_factory.mktemp("health"), CAMERAS) as site:
        wait_for(lambda: _recording(site) == CAMERAS, 120, f"{CAMERAS} cameras recording")
        yield site


def _recording(site: HealthSite) -> int:
    from appliance.models.media import CameraStatus

    with site.ctx.db.session() as session:
        rows = session.exec(select(CameraStatus)).all()
    return sum(1 for r in rows if r.state == "recording")


def _sign_in(page: Any, username: str) -> None:
    page.goto("/health")
    page.wait_for_url("**/login**")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_response("**/api/auth/login"):
        page.click("#login-form button[type=submit]")
    page.wait_for_url("**/health")


@pytest.mark.slow  # waits for a real camera to be declared down (~20 s)
def test_the_admin_watches_a_camera_go_dark_and_acknowledges_its_alarm(
    box: HealthSite, chromium: Any
) -> None:
    context = chromium.new_context(
        base_url=box.url, locale="ko-KR", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
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
    try:
        _sign_in(page, "boxadmin")
        page.wait_for_selector("#camera-rows tr")
        assert page.locator("#camera-rows tr").count() == CAMERAS
        page.wait_for_function(
            "n => document.querySelectorAll('#camera-rows td[data-state=recording]').length === n",
            arg=CAMERAS,
        )
        # The vault starts locked (a passphrase seals it): the page says so.
        page.wait_for_function(
            "t => document.querySelector('#tile-vault .tile-value').textContent === t",
            arg=KO["health.vault_locked"],
        )
        assert KO["health.no_still"] in page.inner_text("main")
        page.screenshot(path=str(SHOTS / "health-ko-all.png"), full_page=True)

        # Stop the third camera in the simulator: reconnecting, then down, then the alarm.
        victim = box.cameras[2]
        box.sim.stop_camera("cam3")
        row = page.locator(f"#camera-rows tr[data-camera={victim}] td[data-state]")
        page.wait_for_function(
            "id => document.querySelector(`#camera-rows tr[data-camera=${id}] td[data-state]`)"
            "?.dataset.state !== 'recording'",
            arg=victim,
        )
        assert row.get_attribute("data-state") == "reconnecting"
        page.wait_for_selector(
            "#alarm-list li[data-kind=camera_down]", timeout=(DOWN_AFTER_S + 30) * 1000
        )
        page.wait_for_function(
            "t => document.getElementById('header-alarms').textContent.includes(t)",
            arg=KO["alarm.kind.camera_down"],
        )
        # ... and mailed: no personal data, where to look.
        wait_for(
            lambda: any(f"camera:{victim}" in str(m["Subject"]) for _, m in box.inbox.messages),
            30,
            "the camera_down e-mail",
        )
        rcpt, mail = next(
            (r, m) for r, m in box.inbox.messages if f"camera:{victim}" in str(m["Subject"])
        )
        assert rcpt == ["it@clinic.example"]
        assert "/health" in body_of(mail)

        # Acknowledge with a note: in the ledger, and shown.
        item = page.locator("#alarm-list li[data-kind=camera_down]")
        item.locator("input[name=note]").fill("전원 확인 중")
        with page.expect_response("**/acknowledge") as answer:
            item.locator("button[type=submit]").click()
        assert answer.value.status == 200
        page.wait_for_selector("#alarm-list li.acked[data-kind=camera_down]")
        with box.ctx.db.session() as session:
            entries = session.exec(
                select(LedgerEntry).where(col(LedgerEntry.event) == "alarm_acknowledged")
            ).all()
        assert [e.actor for e in entries] == ["boxadmin"] and "전원 확인 중" in entries[0].data
        page.screenshot(path=str(SHOTS / "health-ko.png"), full_page=False)

        # English, then unlock the vault (as the unlock page would) and watch it turn.
        page.goto("/health?lang=en")
        page.wait_for_selector("#alarm-list li[data-kind=camera_down]")
        assert EN["health.no_still"] in page.inner_text("main")
        assert EN["alarm.kind.camera_down"] in page.inner_text("#header-alarms")
        page.wait_for_function(
            "t => document.querySelector('#tile-vault .tile-value').textContent === t",
            arg=EN["health.vault_locked"],
        )
        page.screenshot(path=str(SHOTS / "health-en.png"), full_page=False)
        box.ctx.vault_keeper.unlock(PASSPHRASE, "boxadmin")
        page.wait_for_function(
            "t => document.querySelector('#tile-vault .tile-value').textContent === t",
            arg=EN["health.vault_unlocked"],
        )
        # The camera back: the alarm clears by itself.
        box.sim.start_camera("cam3")
        page.wait_for_function(
            "() => !document.querySelector('#alarm-list li[data-kind=camera_down]')",
            timeout=60_000,
        )
        assert errors == []
    finally:
        context.close()


def test_the_auditor_reads_the_page_but_acts_on_nothing(box: HealthSite, chromium: Any) -> None:
    context = chromium.new_context(base_url=box.url, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        _sign_in(page, "boxaudit")
        page.wait_for_selector("#camera-rows tr")
        assert page.locator("#alarm-list form").count() == 0  # no acknowledge form
        assert page.locator("#header-alarms").count() == 0  # the header is for who acts
        assert page.locator("video, img[src*=segment]").count() == 0
    finally:
        context.close()
