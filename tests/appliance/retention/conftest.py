"""Retention fixtures: one camera per group (general 0/30, operating-room 30/30, daycare 60/90),
on SQLite by default and on PostgreSQL for the tests marked ``postgres``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.settings import Settings
from tests.conftest import SettingsFactory


def group_cameras() -> list[dict[str, Any]]:
    return [
        {
            "id": cam_id,
            "name": name,
            "location": name,
            "location_type": kind,
            "url": f"rtsp://127.0.0.1:8554/{cam_id}",
            "group": group,
        }
        for cam_id, name, kind, group in (
            ("cam01", "로비", "lobby", "general"),
            ("cam02", "복도", "corridor", "general"),
            ("or01", "수술실 1", "operating_room", "operating-room"),
            ("day01", "어린이집", "daycare", "daycare"),
        )
    ]


def _settings(make_settings: SettingsFactory, tmp_path: Path, **extra: Any) -> Settings:
    return make_settings(
        cameras=group_cameras(),
        vault={"kdf_strength": "interactive"},
        retention={"batch_size": 50, "retired_key_grace_s": 0},
        **extra,
    )


@pytest.fixture
def settings(make_settings: SettingsFactory, tmp_path: Path) -> Settings:
    return _settings(make_settings, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_ctx(
    request: pytest.FixtureRequest,
    make_settings: SettingsFactory,
    tmp_path: Path,
    clock: FakeClock,
) -> Iterator[AppContext]:
    """An initialised context on SQLite, then on PostgreSQL."""
    extra: dict[str, Any] = {}
    if request.param == "postgres":
        extra["database"] = {"url": request.getfixturevalue("pg_url")}
    settings = _settings(make_settings, tmp_path, **extra)
    initialize(settings, clock)
    context = AppContext.open(settings, clock)
    yield context
    context.close()
