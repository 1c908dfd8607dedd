"""Retention fixtures: cameras in each group (general 0/30, operating-room 30/30, daycare 60/90),
on SQLite and, for the tests marked ``postgres``, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.settings import Settings
from tests.support.config import SettingsFactory
from tests.support.retention import (
    BACKENDS,
    CtxFactory,
    backend_url,
    open_contexts,
    retention_settings,
)


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return retention_settings(make_settings)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite, else a fresh PostgreSQL database URL."""
    return backend_url(request)


@pytest.fixture
def make_ctx(
    make_settings: SettingsFactory, clock: FakeClock, backend: str | None, tmp_path: Path
) -> Iterator[CtxFactory]:
    """Initialise and open a context; keyword arguments replace settings sections
    (``storage`` is merged into the base one, which holds the tmp dirs)."""
    with open_contexts(make_settings, clock, backend, tmp_path) as factory:
        yield factory


@pytest.fixture
def any_ctx(make_ctx: CtxFactory) -> AppContext:
    """An initialised context on SQLite, then on PostgreSQL."""
    return make_ctx()
