"""Fixtures for the recorder tests: a real clip and contexts for recorder set-ups."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.settings import Settings
from tests.support.media import Clip, make_clip


@pytest.fixture(scope="session")
def h264_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "a.h264", "h264")


@pytest.fixture
def open_recorder_ctx(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], AppContext]]:
    """Initialise a data dir for a configuration and open a context on the system clock
    (stream-to-wall mapping follows real time)."""
    opened: list[AppContext] = []

    def factory(data: dict[str, Any]) -> AppContext:
        settings = Settings(**data)
        clock = SystemClock()
        initialize(settings, clock, insecure_no_passphrase=True)
        ctx = AppContext.open(settings, clock)
        opened.append(ctx)
        return ctx

    yield factory
    for ctx in opened:
        ctx.close()
