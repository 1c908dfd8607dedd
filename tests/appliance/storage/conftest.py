"""Storage fixtures: contexts on SQLite and (marker ``postgres``) PostgreSQL, as retention's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.clock import FakeClock
from tests.support.config import SettingsFactory
from tests.support.retention import BACKENDS, CtxFactory, backend_url, open_contexts


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str | None:
    return backend_url(request)


@pytest.fixture
def make_ctx(
    make_settings: SettingsFactory, clock: FakeClock, backend: str | None, tmp_path: Path
) -> Iterator[CtxFactory]:
    with open_contexts(make_settings, clock, backend, tmp_path) as factory:
        yield factory
