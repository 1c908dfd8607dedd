"""Clips with a real face: scikit-image's astronaut, which OpenCV's Haar cascade finds."""

from __future__ import annotations

import io

import av
import cv2
import cv2.data
import numpy as np
import numpy.typing as npt
import pytest
from skimage import data

Image = npt.NDArray[np.uint8]


def encode_clip(frames: list[Image], rate: int = 25) -> bytes:
    """An H.264 MP4 in memory from RGB frames."""
    height, width = frames[0].shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "18"}
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def decode_grey(mp4: bytes) -> list[Image]:
    with av.open(io.BytesIO(mp4), "r") as container:
        return [
            np.asarray(f.to_ndarray(format="gray"), np.uint8) for f in container.decode(video=0)
        ]


_CASCADE = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def find_faces(grey: Image) -> list[tuple[int, int, int, int]]:
    """Faces at full size with a more sensitive setting than the masker uses (a stricter judge)."""
    # Her face is about 96 px wide in every test clip: search 64..160 px, finely.
    found = _CASCADE.detectMultiScale(
        grey, scaleFactor=1.05, minNeighbors=3, minSize=(64, 64), maxSize=(160, 160)
    )
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


def covers(found: list[tuple[int, int, int, int]], point: tuple[int, int]) -> bool:
    px, py = point
    return any(x <= px < x + w and y <= py < y + h for x, y, w, h in found)


@pytest.fixture(scope="session")
def astronaut() -> Image:
    return np.ascontiguousarray(data.astronaut())  # type: ignore[no-untyped-call]


# Centre of the astronaut's face in the 512 x 512 picture (the cascade finds it at 176,66 96x96).
FACE_CENTRE = (224, 114)


@pytest.fixture(scope="session")
def face_clip(astronaut: Image) -> bytes:
    """Ten frames (0.4 s) of the astronaut."""
    return encode_clip([astronaut] * 10)
