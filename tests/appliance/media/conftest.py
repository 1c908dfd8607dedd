"""Session clips of real encoded video (H.264 and H.265) for the media tests."""

from __future__ import annotations

import pytest

from tests.support.media import Clip, make_clip


@pytest.fixture(scope="session")
def h264_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "a.h264", "h264")


@pytest.fixture(scope="session")
def hevc_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "a.hevc", "hevc")
