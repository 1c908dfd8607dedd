"""Page helpers the request desk's browser tests share (tests/browser/test_desk.py and
test_mask_room.py): signing in at a desk page, drawing a rectangle by hand on the mask editor's
frame, half-size screenshots for the docs, local time strings for the form fields, and the hold
step of the retention cycle run at a later moment (the grace period after closure)."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import cv2
import numpy as np

from appliance.clock import FakeClock, from_ms
from appliance.context import AppContext
from appliance.retention import release_expired_holds
from tests.support.browser import Site, Tab
from tests.support.users import PASSWORD

__all__ = ["DRAG", "drag_rectangle", "local_time", "release_holds_at", "sign_in", "small_shot"]

#: Where the officer drags, as fractions of the frame: the lower right (the astronaut's suit
#: and the flag), away from the face the detectors mask anyway.
DRAG = ((0.55, 0.62), (0.9, 0.92))


def sign_in(tab: Tab, username: str, path: str = "/requests") -> None:
    """Open ``path``, get sent to the login page, sign in and come back to ``path``."""
    page = tab.page
    tab.goto(path)
    page.wait_for_url("**/login**")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_response("**/api/auth/login"):
        page.click("#login-form button[type=submit]")
    page.wait_for_url(f"**{path}")


def local_time(site: Site, ms: int, fmt: str = "%Y-%m-%dT%H:%M:%S") -> str:
    """``ms`` in the site's zone, as a datetime-local field takes it."""
    return datetime.fromtimestamp(ms / 1000, tz=site.ctx.settings.zone).strftime(fmt)


def drag_rectangle(page: Any, drag: tuple[tuple[float, float], tuple[float, float]] = DRAG) -> None:
    """Draw one rectangle on the mask editor's frame with the mouse, as a hand does."""
    page.locator("#mask-overlay").scroll_into_view_if_needed()
    box = page.locator("#mask-overlay").bounding_box()
    (x0, y0), (x1, y1) = drag
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
    page.mouse.down()
    for step in range(1, 6):  # a hand's drag: several moves
        f = step / 5
        page.mouse.move(
            box["x"] + (x0 + (x1 - x0) * f) * box["width"],
            box["y"] + (y0 + (y1 - y0) * f) * box["height"],
        )
    page.mouse.up()


def small_shot(page: Any, path: str, *, full_page: bool = True) -> None:
    """A small PNG of the page (half size) for the docs."""
    png = page.screenshot(full_page=full_page)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    small = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    cv2.imwrite(path, small, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def release_holds_at(site: Site, moment_ms: int) -> list[int]:
    """The retention cycle's hold step (``release_expired_holds``) on a fake clock set to
    ``moment_ms``; returns the ids released.

    The browser site runs on the system clock (cookies must agree with the browser), and its
    recorded footage serves the other tests of the session, so only the hold step runs in the
    future, not the purge that would follow it.
    """
    ctx = site.ctx
    later = AppContext(settings=ctx.settings, db=ctx.db, clock=FakeClock(from_ms(moment_ms)))
    with later.db.session() as session:
        return release_expired_holds(later, session, "retention")
