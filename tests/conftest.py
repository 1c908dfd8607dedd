"""Fixtures: a fresh configuration, database, key dir and fake clock per test.

Real parts only: SQLite files in tmp_path, a real PostgreSQL server (``pg_url``), real keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.main import InitResult, initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.settings import Settings
from tests._pg import PostgresServer

SettingsFactory = Callable[..., Settings]


def base_config(tmp_path: Path, cameras: int = 3) -> dict[str, Any]:
    """A valid configuration as a dict (what a TOML file would hold)."""
    return {
        "site": {
            "name": "테스트의원",
            "address": "서울",
            "officer": {
                "name": "김보호",
                "department": "원장단",
                "title": "대표원장",
                "phone": "02-000-0000",
                "email": "officer@example.invalid",
            },
        },
        "storage": {
            "data_dir": str(tmp_path / "data"),
            "key_dir": str(tmp_path / "keys"),
            "min_free_bytes": 0,
            "alarm_free_bytes": 0,
        },
        "groups": [
            {"name": "general", "min_days": 0, "max_days": 30},
            {
                "name": "operating-room",
                "min_days": 30,
                "max_days": 30,
                "disclosure": "operating_room",
            },
            {"name": "daycare", "min_days": 60, "max_days": 90},
        ],
        "cameras": [
            {
                "id": f"cam{i:02d}",
                "name": f"카메라 {i}",
                "location": f"1층 로비 {i}",
                "location_type": "lobby",
                "url": f"rtsp://127.0.0.1:8554/cam{i}",
                "group": "general",
            }
            for i in range(1, cameras + 1)
        ],
    }


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
    return initialize(settings, clock)


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
