"""Fixtures for the recorder tests: real encoded clips (ffmpeg) and segment helpers."""

from __future__ import annotations

import pytest

from tests.appliance.media.conftest import Clip, make_clip


@pytest.fixture(scope="session")
def h264_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "a.h264", "h264")
