"""Real stored footage for request and export tests: H.264 clips of the scikit-image astronaut
(a face the Haar cascade finds), written as sealed segments the way the recorder writes them."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from skimage import data

from appliance.context import AppContext
from appliance.media import new_segment_key
from appliance.models import Segment
from tests.appliance.media.conftest import FPS, Clip, write_segment

__all__ = ["FPS", "astronaut_clip", "store_segment"]


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
