"""The running site the browser tests talk to, and a browser tab on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from appliance.access import AccessService
from appliance.context import AppContext

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "Site", "Tab"]

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
