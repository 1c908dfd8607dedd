"""Real footage for viewing tests: clips encoded by ffmpeg, sealed into real segments + rows.

The segments are written the way the recorder writes them (``SegmentWriter``, a per-segment key
sealed to the vault's public key) and indexed as ``Segment`` rows, so playback reads exactly
what it reads in production.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from appliance.context import AppContext
from appliance.keys import load_vault_public_key
from appliance.media import new_segment_key
from appliance.media.layout import segment_relpath
from appliance.models import Segment
from tests.support.media import FPS, FRAME_TICKS, TB, Clip, write_segment

__all__ = [
    "FPS",
    "FRAME_MS",
    "FRAME_TICKS",
    "TB",
    "Clip",
    "Recorded",
    "decode_clip",
    "decode_mp4",
    "make_clip",
    "psnr",
    "store_clip",
]

FRAME_MS = 1000 // FPS


def make_clip(path: Path, codec: str, seconds: int, size: str = "320x240") -> Clip:
    """A test pattern with a key frame every second; (access unit, is key) pairs."""
    if not path.exists():
        encoder, fmt = ("libx264", "h264") if codec == "h264" else ("libx265", "hevc")
        extra = ["-x265-params", "log-level=error"] if codec == "hevc" else []
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             f"testsrc2=size={size}:rate={FPS}", "-t", str(seconds), "-c:v", encoder, *extra,
             "-g", str(FPS), "-bf", "0", "-pix_fmt", "yuv420p", "-f", fmt, str(path)],
            check=True,
        )  # fmt: skip
    fmt = "h264" if codec == "h264" else "hevc"
    with av.open(str(path), format=fmt) as container:
        return [(bytes(p), p.is_keyframe) for p in container.demux(video=0) if p.size]


def decode_clip(clip: Clip, codec: str) -> list[np.ndarray]:
    """The clip's frames as grey arrays (what a viewer should see)."""
    context: Any = av.CodecContext.create(codec, "r")
    frames = []
    for data, _ in clip:
        for frame in context.decode(av.Packet(data)):
            frames.append(frame.to_ndarray(format="gray"))
    frames.extend(f.to_ndarray(format="gray") for f in context.decode(None))
    return frames


def decode_mp4(data: bytes) -> list[np.ndarray]:
    """Every frame of an MP4 in memory, as grey arrays (raises if it does not decode)."""
    container: Any
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


@dataclass(frozen=True)
class Recorded:
    camera_id: str
    start_ms: int
    end_ms: int
    frames: int
    codec: str


def store_clip(
    ctx: AppContext,
    clip: Clip,
    *,
    camera_id: str,
    start_ms: int,
    codec: str = "h264",
    segment_frames: int = 2 * FPS,
) -> Recorded:
    """Write ``clip`` as consecutive segments of ``segment_frames`` (cut on key frames)."""
    key_id, public = load_vault_public_key(ctx.settings.storage.key_dir)
    segments_dir = ctx.settings.segments_dir
    for first in range(0, len(clip), segment_frames):
        part = clip[first : first + segment_frames]
        assert part[0][1], "segments start on a key frame"
        seg_start = start_ms + first * FRAME_MS
        key, sealed = new_segment_key(public)
        rel = segment_relpath(camera_id, seg_start, f"t{first}")
        path = segments_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        summary, size, digest, _ = write_segment(
            path,
            key,
            part,
            codec=codec,
            first_frame=first,
            start_ms=seg_start,
            camera_id=camera_id,
            chunk_bytes=64 * 1024,
        )
        with ctx.db.session() as session:
            session.add(
                Segment(
                    camera_id=camera_id,
                    start_ms=seg_start,
                    end_ms=summary.end_ms,
                    path=rel,
                    size_bytes=size,
                    digest=digest,
                    vault_key_id=key_id,
                    sealed_key=sealed,
                    codec=codec,
                    width=summary.width,
                    height=summary.height,
                    frames=len(part),
                    key_frames=summary.key_frames,
                    created_ms=summary.end_ms,
                )
            )
    return Recorded(camera_id, start_ms, start_ms + len(clip) * FRAME_MS, len(clip), codec)
