"""Staff accounts for the tests: the one test password, a user per role, and signed-in clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi.testclient import TestClient

from appliance.models import Role

__all__ = ["PASSWORD", "ROLE_USERS", "Login", "Staff"]

PASSWORD = "correct horse battery"
ROLE_USERS = {
    Role.admin: "admin1",
    Role.officer: "officer1",
    Role.viewer: "viewer1",
    Role.auditor: "auditor1",
    Role.agency: "agency1",
}


@dataclass
class Staff:
    """Accounts for every role; the viewer holds a grant for cam01 only."""

    ids: dict[str, int]
    agency_token: str


# ``login(username, password=PASSWORD, csrf=True)``: a client signed in as ``username``.
Login = Callable[..., TestClient]
