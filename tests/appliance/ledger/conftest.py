"""A ledger on SQLite or PostgreSQL, plus a separate raw connection to tamper with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.db import Database
from appliance.ledger import Ledger
from appliance.settings import Settings
from tests.support.ledger import Backend


def _open(request: pytest.FixtureRequest, name: str) -> Iterator[Backend]:
    if name == "sqlite":
        ctx: AppContext = request.getfixturevalue("ctx")
        yield Backend("sqlite", ctx.db, ctx.ledger)
        return
    settings: Settings = request.getfixturevalue("settings")
    clock: FakeClock = request.getfixturevalue("clock")
    request.getfixturevalue("initialized")  # the key dir with the signing key
    db = Database(request.getfixturevalue("pg_url"))
    db.migrate()
    try:
        yield Backend("postgres", db, Ledger.open(settings, db, clock))
    finally:
        db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The same test on SQLite and on PostgreSQL."""
    yield from _open(request, request.param)


@pytest.fixture
def sqlite_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _open(request, "sqlite")


@pytest.fixture
def pg_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _open(request, "postgres")
