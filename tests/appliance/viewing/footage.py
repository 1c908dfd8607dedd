"""Real footage for viewing tests: clips encoded by ffmpeg, sealed into real segments + rows.

The segments are written the way the recorder writes them (``SegmentWriter``, a per-segment key
sealed to the vault's public key) and indexed as ``Segment`` rows, so playback reads exactly
what it reads in production.
"""

from __future__ import annotations

import io
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from appliance.context import AppContext
from appliance.keys import load_vault_public_key
from appliance.media import SegmentHead, SegmentSummary, SegmentWriter, StreamInfo, new_segment_key
from appliance.media.format import Sample
from appliance.media.layout import segment_relpath
from appliance.media.mp4 import init_from_keyframe
from appliance.models import Segment

FPS = 25
TB = 90_000
FRAME_TICKS = TB // FPS
FRAME_MS = 1000 // FPS

Clip = list[tuple[bytes, bool]]


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
    init, width, height = init_from_keyframe(codec, clip[0][0])
    video = StreamInfo(0, "video", codec, 1, TB, width, height, init=init)
    for first in range(0, len(clip), segment_frames):
        part = clip[first : first + segment_frames]
        assert part[0][1], "segments start on a key frame"
        seg_start = start_ms + first * FRAME_MS
        base = first * FRAME_TICKS
        head = SegmentHead(camera_id, seg_start, seg_start, base, (video,))
        key, sealed = new_segment_key(public)
        rel = segment_relpath(camera_id, seg_start, f"t{first}")
        path = segments_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            writer = SegmentWriter(fd, key, head, chunk_bytes=64 * 1024)
            for index, (data, is_key) in enumerate(part):
                ts = base + index * FRAME_TICKS
                writer.add(Sample(0, data, ts, ts, FRAME_TICKS, is_key, head.wall_ms(0, ts)))
            end_ms = seg_start + len(part) * FRAME_MS
            summary = SegmentSummary(
                camera_id=camera_id,
                start_ms=seg_start,
                end_ms=end_ms,
                frames=len(part),
                key_frames=sum(1 for _, k in part if k),
                samples=len(part),
                payload_bytes=sum(len(d) for d, _ in part),
                codec=codec,
                width=width,
                height=height,
                has_audio=False,
            )
            size, digest = writer.finish(summary)
        finally:
            os.close(fd)
        with ctx.db.session() as session:
            session.add(
                Segment(
                    camera_id=camera_id,
                    start_ms=seg_start,
                    end_ms=end_ms,
                    path=rel,
                    size_bytes=size,
                    blake2b_hex=digest,
                    vault_key_id=key_id,
                    sealed_key=sealed,
                    codec=codec,
                    width=width,
                    height=height,
                    frames=len(part),
                    key_frames=summary.key_frames,
                    created_ms=end_ms,
                )
            )
    return Recorded(camera_id, start_ms, start_ms + len(clip) * FRAME_MS, len(clip), codec)
