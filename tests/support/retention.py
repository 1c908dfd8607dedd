"""Retention and vault set-ups: cameras in each group (general 0/30, operating-room 30/30,
daycare 60/90), cheap vault settings, and contexts on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.settings import Settings
from tests.support.config import SettingsFactory, base_config

__all__ = [
    "BACKENDS",
    "CtxFactory",
    "backend_url",
    "group_cameras",
    "open_contexts",
    "retention_settings",
]

CtxFactory = Callable[..., AppContext]

# The params of a ``backend`` fixture: SQLite, and PostgreSQL for the tests marked ``postgres``.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


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


def retention_settings(make_settings: SettingsFactory, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "cameras": group_cameras(),
        "vault": {"kdf_strength": "interactive"},
        "retention": {"batch_size": 50, "retired_key_grace_s": 0},
    }
    values.update(extra)
    return make_settings(**values)


def backend_url(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite, else a fresh PostgreSQL database URL (``request.param`` of BACKENDS)."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return None


@contextmanager
def open_contexts(
    make_settings: SettingsFactory, clock: FakeClock, backend: str | None, tmp_path: Path
) -> Iterator[CtxFactory]:
    """Initialise and open a context; keyword arguments replace settings sections
    (``storage`` is merged into the base one, which holds the tmp dirs). Closes them all."""
    opened: list[AppContext] = []

    def factory(**extra: Any) -> AppContext:
        if backend is not None:
            extra.setdefault("database", {"url": backend})
        if "storage" in extra:
            extra["storage"] = {**base_config(tmp_path)["storage"], **extra["storage"]}
        settings = retention_settings(make_settings, **extra)
        initialize(settings, clock, insecure_no_passphrase=True)
        context = AppContext.open(settings, clock)
        opened.append(context)
        return context

    try:
        yield factory
    finally:
        for context in opened:
            context.close()
