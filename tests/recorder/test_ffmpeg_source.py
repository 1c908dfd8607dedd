"""FfmpegSource keeps the PacketSource contract: tracks, packets by kind, audio only when asked.

A file stands in for the camera (FFmpeg's demuxing path is the same; the worker tests do so too).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from recorder.ffmpeg_source import FfmpegSource
from recorder.source import Packet, StreamKind


@pytest.fixture(scope="module")
def with_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ts") / "av.ts"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", "1", "-c:v", "libx264", "-g", "25", "-bf", "0", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-f", "mpegts", str(path)],
        check=True,
    )  # fmt: skip
    return path


@contextlib.contextmanager
def _open(path: Path, *, allowed: bool) -> Iterator[FfmpegSource]:
    source = FfmpegSource(str(path), timeout_s=5, audio=allowed)
    source.open()
    try:
        yield source
    finally:
        source.close()


def _read(path: Path, *, allowed: bool, audio: bool) -> list[Packet]:
    with _open(path, allowed=allowed) as source:
        return list(source.packets(audio=audio))


def test_video_and_audio_tracks_and_packets(with_audio: Path) -> None:
    with _open(with_audio, allowed=True) as source:
        video, audio = source.video_track(), source.audio_track()
        packets = list(source.packets(audio=True))
        assert source.fallback_init()  # FFmpeg's own parameters make an init
        assert (source.dropped_frames, source.bad_packets) == (0, 0)
    assert (video.codec, video.width, video.height) == ("h264", 160, 120)
    assert video.time_base == Fraction(1, 90_000)
    assert audio is not None and audio.codec == "aac" and audio.sample_rate > 0 and audio.init
    assert {p.kind for p in packets} == {StreamKind.video, StreamKind.audio}
    videos = [p for p in packets if p.kind is StreamKind.video]
    assert len(videos) == 25 and videos[0].key_frame
    assert all(type(p.data) is bytes and p.data for p in packets)
    assert all(p.pts is not None or p.dts is not None for p in packets)
    assert not any(p.key_frame for p in packets if p.kind is StreamKind.audio)


def test_audio_is_neither_set_up_nor_read_unless_stored(with_audio: Path) -> None:
    with _open(with_audio, allowed=False) as source:
        assert source.audio_track() is None
    assert {p.kind for p in _read(with_audio, allowed=False, audio=True)} == {StreamKind.video}
    # Allowed but not asked for (as when its MP4 init could not be made): not read.
    assert {p.kind for p in _read(with_audio, allowed=True, audio=False)} == {StreamKind.video}
