"""Real encoded video (ffmpeg, libx264/libx265) demuxed into samples, and real sealed segments."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av

from appliance.media import SegmentHead, SegmentSummary, SegmentWriter, StreamInfo
from appliance.media.format import Sample
from appliance.media.mp4 import init_from_keyframe

__all__ = [
    "FPS",
    "FRAME_TICKS",
    "START_MS",
    "TB",
    "Clip",
    "WriteSegment",
    "make_clip",
    "write_segment",
]

FPS = 25
TB = 90_000
FRAME_TICKS = TB // FPS
START_MS = 1_772_323_200_000  # 2026-03-01 00:00 UTC

Clip = list[tuple[bytes, bool]]


def make_clip(path: Path, codec: str, seconds: int = 4, size: str = "320x240") -> Clip:
    """Encode a test pattern with a key frame every second; return (access unit, key) pairs."""
    encoder, fmt = ("libx264", "h264") if codec == "h264" else ("libx265", "hevc")
    extra = ["-x265-params", "log-level=error"] if codec == "hevc" else []
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size={size}:rate={FPS}", "-t", str(seconds), "-c:v", encoder, *extra,
         "-g", str(FPS), "-bf", "0", "-pix_fmt", "yuv420p", "-f", fmt, str(path)],
        check=True,
    )  # fmt: skip
    with av.open(str(path), format=fmt) as container:
        return [(bytes(p), p.is_keyframe) for p in container.demux(video=0) if p.size]


WriteSegment = Callable[..., tuple[Path, SegmentSummary, int, str, list[Sample]]]


def write_segment(
    path: Path,
    key: bytes,
    clip: Clip,
    *,
    codec: str = "h264",
    first_frame: int = 0,
    start_ms: int = START_MS,
    camera_id: str = "cam01",
    chunk_bytes: int = 16 * 1024,
    cipher: int | None = None,
    writer_class: Callable[..., Any] = SegmentWriter,
) -> tuple[SegmentSummary, int, str, list[Sample]]:
    """Write ``clip`` as one segment the way the recorder does; return what was written."""
    init, width, height = init_from_keyframe(codec, clip[0][0])
    video = StreamInfo(0, "video", codec, 1, TB, width, height, init=init)
    base = (first_frame) * FRAME_TICKS
    head = SegmentHead(camera_id, start_ms, start_ms, base, (video,))
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        options = {} if cipher is None else {"cipher": cipher}
        writer = writer_class(fd, key, head, chunk_bytes=chunk_bytes, **options)
        for index, (data, is_key) in enumerate(clip):
            ts = base + index * FRAME_TICKS
            sample = Sample(0, data, ts, ts, FRAME_TICKS, is_key, head.wall_ms(0, ts))
            writer.add(sample)
            samples.append(sample)
        summary = SegmentSummary(
            camera_id=camera_id,
            start_ms=start_ms,
            end_ms=start_ms + len(clip) * 1000 // FPS,
            frames=len(clip),
            key_frames=sum(1 for _, k in clip if k),
            samples=len(clip),
            payload_bytes=sum(len(d) for d, _ in clip),
            codec=codec,
            width=width,
            height=height,
            has_audio=False,
        )
        size, digest = writer.finish(summary)
    finally:
        os.close(fd)
    return summary, size, digest, samples
