"""An AccessService on the test context (real SQLite, real ledger, fake clock)."""

from __future__ import annotations

import pytest

from appliance.access import AccessService, Principal
from appliance.context import AppContext
from appliance.models import Role, User
from tests.support.users import PASSWORD


@pytest.fixture
def access(ctx: AppContext) -> AccessService:
    return AccessService(ctx.db, ctx.clock, ctx.settings.server, ctx.ledger)


@pytest.fixture
def root() -> Principal:
    return Principal.local("root")


@pytest.fixture
def make_user(access: AccessService, root: Principal):  # type: ignore[no-untyped-def]
    def factory(username: str, role: Role = Role.viewer, **kwargs: str) -> User:
        user, _ = access.create_user(
            root,
            username=username,
            role=role,
            display_name=kwargs.pop("display_name", username.title()),
            password=kwargs.pop("password", PASSWORD),
            **kwargs,
        )
        return user

    return factory
