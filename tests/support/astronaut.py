"""The scikit-image astronaut, a face OpenCV's Haar cascade finds: clips of her for request and
export tests (in memory, or written as sealed segments the way the recorder writes them), and a
face finder stricter than the masker to judge the result."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import av
import cv2
import cv2.data
import numpy as np
import numpy.typing as npt
from skimage import data

from appliance.context import AppContext
from appliance.media import new_segment_key
from appliance.models import Segment
from tests.support.media import FPS, Clip, write_segment

__all__ = [
    "FACE_CENTRE",
    "FPS",
    "Image",
    "astronaut_clip",
    "covers",
    "decode_grey",
    "encode_clip",
    "find_faces",
    "store_segment",
]


def astronaut_clip(seconds: int = 2) -> Clip:
    """(access unit, key) pairs of an Annex-B H.264 clip, a key frame every second."""
    image = np.ascontiguousarray(data.astronaut())  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 512, 512, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20", "g": str(FPS), "bf": "0"}
        for index in range(seconds * FPS):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with av.open(io.BytesIO(buffer.getvalue()), "r", format="h264") as container:
        return [(bytes(p), bool(p.is_keyframe)) for p in container.demux(video=0) if p.size]


def store_segment(
    ctx: AppContext, camera_id: str, start_ms: int, clip: Clip, *, index: int = 0
) -> Segment:
    """Seal ``clip`` into a segment file of ``camera_id`` starting at ``start_ms``; index it."""
    key_id, public = ctx.vault.current_public_key()
    key, sealed = new_segment_key(public)
    rel = f"{camera_id}/{start_ms}.seg"
    path: Path = ctx.settings.segments_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    summary, size, digest, _ = write_segment(
        path, key, clip, first_frame=index * len(clip), start_ms=start_ms, camera_id=camera_id
    )
    segment = Segment(
        camera_id=camera_id,
        start_ms=start_ms,
        end_ms=summary.end_ms,
        path=rel,
        size_bytes=size,
        digest=digest,
        vault_key_id=key_id,
        sealed_key=sealed,
        codec="h264",
        width=summary.width,
        height=summary.height,
        frames=summary.frames,
        key_frames=summary.key_frames,
        created_ms=start_ms,
    )
    with ctx.db.session() as session:
        session.add(segment)
        session.flush()
        session.refresh(segment)
    return segment


Image = npt.NDArray[np.uint8]


def encode_clip(frames: Sequence[Image], rate: int = 25, crf: int = 18) -> bytes:
    """An H.264 MP4 in memory from RGB frames."""
    height, width = frames[0].shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": str(crf)}
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


# Centre of the astronaut's face in the 512 x 512 picture (the cascade finds it at 176,66 96x96).
FACE_CENTRE = (224, 114)
