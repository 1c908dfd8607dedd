"""Clips with B-frames, encoded with ffmpeg at test time: access units in decoding order with
their presentation times, as a camera sends them (the ground truth for the DTS derivation)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import av

__all__ = ["FPS", "FRAME_TICKS", "BframeClip", "encode_clip"]

FPS = 25
FRAME_TICKS = 90_000 // FPS


@dataclass(frozen=True)
class BframeClip:
    """Access units (Annex-B) in decoding order, key flags, and PTS in 90 kHz ticks (the
    first picture shown at 0)."""

    units: list[bytes]
    keys: list[bool]
    pts: list[int]


def encode_clip(
    directory: Path, codec: str, *, params: str = "", seconds: int = 4, size: str = "320x240"
) -> BframeClip:
    """Encode a test pattern (a key frame every second) with the encoder's ``params``
    (x264/x265 ``-x*-params``), e.g. ``bframes=3:b-pyramid=normal``."""
    encoder, raw = ("libx264", "h264") if codec == "h264" else ("libx265", "hevc")
    option = "-x264-params" if codec == "h264" else "-x265-params"
    keyint = f"keyint={FPS}:min-keyint={FPS}:scenecut=0"
    if codec != "h264":
        keyint += ":log-level=error:open-gop=0"
    mkv, annexb = directory / f"{codec}-{abs(hash(params))}.mkv", directory / f"{codec}.{raw}"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size={size}:rate={FPS}", "-t", str(seconds), "-c:v", encoder,
         option, f"{keyint}:{params}" if params else keyint, "-pix_fmt", "yuv420p", str(mkv)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(mkv), "-c", "copy", "-f", raw,
         str(annexb)],
        check=True,
    )  # fmt: skip
    with av.open(str(mkv)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        assert tb is not None
        times = [
            int(p.pts * tb * 90_000)
            for p in container.demux(stream)
            if p.size and p.pts is not None
        ]
    with av.open(str(annexb), format=raw) as container:
        packets = [(bytes(p), p.is_keyframe) for p in container.demux(video=0) if p.size]
    assert len(packets) == len(times), (len(packets), len(times))
    first = min(times)
    return BframeClip(
        [data for data, _ in packets], [key for _, key in packets], [t - first for t in times]
    )
