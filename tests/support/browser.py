"""The running site the browser tests talk to, and a browser tab on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from appliance.access import AccessService
from appliance.context import AppContext
from tests.support.recorder import segments_of

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "Site", "Tab", "fill_range_around_footage"]

CHROMIUM = "/usr/bin/chromium"  # Debian's, never a downloaded browser
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Site:
    """The running appliance the browser talks to."""

    url: str
    ctx: AppContext
    access: AccessService
    admin_username: str
    admin_password: str
    totp_secret: str
    users: dict[str, int] = field(default_factory=dict)


@dataclass
class Tab:
    """A page in a fresh browser context, with the errors its scripts reported."""

    page: Any
    context: Any
    errors: list[str]

    def goto(self, path: str) -> Any:
        return self.page.goto(path)


def fill_range_around_footage(site: Site, page: Any, camera_id: str) -> None:
    """Fill the viewer's day and time fields from the camera's first footage to now."""
    zone = site.ctx.settings.zone
    first = segments_of(site.ctx, camera_id)[0].start_ms
    start = datetime.fromtimestamp(first / 1000, tz=zone)
    now = datetime.fromtimestamp(site.ctx.clock.now_ms() / 1000, tz=zone)
    page.fill("#day", now.date().isoformat())
    page.fill("#from", start.strftime("%H:%M:%S") if start.date() == now.date() else "00:00:00")
    page.fill("#to", now.strftime("%H:%M:%S"))
