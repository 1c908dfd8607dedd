"""Session pictures and clips with a real face: scikit-image's astronaut."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from tests.support.astronaut import Image, encode_clip


@pytest.fixture(scope="session")
def astronaut() -> Image:
    return np.ascontiguousarray(data.astronaut())  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def face_clip(astronaut: Image) -> bytes:
    """Ten frames (0.4 s) of the astronaut."""
    return encode_clip([astronaut] * 10)
