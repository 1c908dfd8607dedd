"""Fixtures: a fresh configuration, database, key dir and fake clock per test.

Real parts only: SQLite files in tmp_path, a real PostgreSQL server (``pg_url``), real keys.
"""

from __future__ import annotations

import os

# The CLI's rich console takes its width once, at import: tests read whole table rows, so the
# terminal is wide whatever the worker's (pytest-xdist workers have no terminal).
os.environ["COLUMNS"] = "200"

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.main import InitResult, initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.settings import Settings
from tests.support.config import SettingsFactory, base_config
from tests.support.postgres import PostgresServer
from tests.support.swift import SwiftServer, swift_available


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules with a slow test first: with ``--dist loadfile`` the two workers then share
    out the long files before the short ones, instead of one worker ending on a long file."""
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 0, 0, tzinfo=UTC))


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Build Settings from the base config, with top-level sections replaced by kwargs."""

    def factory(**overrides: Any) -> Settings:
        data = base_config(tmp_path)
        data.update(overrides)
        return Settings(**data)

    return factory


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
def initialized(settings: Settings, clock: FakeClock) -> InitResult:
    """``appliance init`` done: dirs, keys, schema, first admin."""
    return initialize(settings, clock, insecure_no_passphrase=True)


@pytest.fixture
def ctx(settings: Settings, clock: FakeClock, initialized: InitResult) -> Iterator[AppContext]:
    """An AppContext on a fresh, migrated SQLite database with keys in tmp_path."""
    context = AppContext.open(settings, clock)
    yield context
    context.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """URL of a fresh, empty PostgreSQL database on the session's server."""
    return pg_server.create_database()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """One Playwright driver for the session: the sync API allows one per thread at a time."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def swift_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftServer]:
    """One all-in-one OpenStack Swift with s3api on loopback for the session (marker swift)."""
    if not swift_available():
        pytest.fail("Debian's swift and memcached packages are missing: scripts/setup.sh")
    server = SwiftServer.start(tmp_path_factory.mktemp("swift"))
    yield server
    server.stop()
