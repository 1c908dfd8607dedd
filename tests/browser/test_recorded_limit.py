"""Recorded playback of more cameras than one person may play at once (issue 13, finding 5):
the tiles past ``viewing.recorded_streams_per_user`` wait behind "play here" (in Korean and
English), and choosing one stops the tile that started first; the page asks again while the
box has not yet noticed the stopped stream (429), so no error is shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from api.web import translations
from tests.support.browser import Site
from tests.support.desk import sign_in
from tests.support.recorder import segments_of

pytestmark = pytest.mark.browser

PLAYING = """(selector) => {
  const v = document.querySelector(selector);
  return !!v && v.error === null && v.readyState >= 2 && v.currentTime > 0.5;
}"""


@pytest.mark.parametrize("locale", ["ko-KR", "en-US"])
def test_tiles_past_the_limit_wait_and_play_here_swaps(
    site: Site, open_tab: Any, locale: str
) -> None:
    assert site.ctx.settings.viewing.recorded_streams_per_user == 1
    words = translations(locale[:2])
    tab = open_tab(locale)
    page = tab.page
    sign_in(tab, "officer", path="/view?camera=cam01")
    for camera in ("cam01", "cam02"):
        page.check(f"input[name=camera][value={camera}]")
    zone = site.ctx.settings.zone
    first = datetime.fromtimestamp(segments_of(site.ctx, "cam01")[0].start_ms / 1000, tz=zone)
    now = datetime.fromtimestamp(site.ctx.clock.now_ms() / 1000, tz=zone)
    page.fill("#day", now.date().isoformat())
    page.fill("#from", first.strftime("%H:%M:%S") if first.date() == now.date() else "00:00:00")
    page.fill("#to", now.strftime("%H:%M:%S"))
    page.select_option("#category", "incident")
    page.fill("#purpose-text", "복도와 로비 동시 확인")
    page.click("#open-viewing")
    page.wait_for_selector("#viewing:not([hidden])")

    tiles = page.locator(".video-tile")
    assert tiles.count() == 2
    page.wait_for_function(PLAYING, arg="#video-cam01", timeout=30_000)
    parked = page.locator(".video-tile.parked")
    assert parked.count() == 1 and parked.locator("#video-cam02").count() == 1
    note = words["view.parked"].replace("{limit}", "1")
    assert parked.locator(".play-here-note").inner_text() == note
    assert not page.is_visible("#video-cam02")
    page.screenshot(path=f"/tmp/recorded-limit-{locale}.png")

    parked.get_by_role("button", name=words["view.play_here"]).click()
    page.wait_for_selector(".video-tile.parked #video-cam01", state="attached")
    assert page.get_attribute("#video-cam01", "src") is None  # its request was closed
    assert page.locator(".video-tile.parked").count() == 1

    page.locator(".video-tile.parked button.play-here").click()  # back to cam01
    page.wait_for_function(PLAYING, arg="#video-cam01", timeout=30_000)
    # A swap may meet a 429 while the box notices the stopped stream: the page asks again.
    assert page.locator(".video-tile .notice.error:visible").count() == 0
    page.click("#end-viewing")
    page.wait_for_selector("#ended:not([hidden])")
    assert tab.errors == []
