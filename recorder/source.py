"""What a recording session needs from a camera connection: the ``PacketSource`` protocol.

Two sources implement it: the native RTSP client (``recorder.rtsp.RtspSource``, the default:
about half the CPU of FFmpeg's RTSP demuxer) and FFmpeg's demuxer through PyAV
(``recorder.ffmpeg_source.FfmpegSource``: audio cameras, rtsps://, or by configuration). The
session (``recorder.session``) and the worker depend on this protocol only.

Packets are the compressed access units as they come, never decoded: Annex-B video (start
codes), raw audio frames. ``Packet`` is a slotted dataclass made once per access unit (the
native client builds it directly; there is no wrapper around it), about 25 a second per camera.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from fractions import Fraction
from typing import Protocol

__all__ = ["AudioTrack", "Packet", "PacketSource", "StreamKind", "VideoTrack"]


class StreamKind(IntEnum):
    """Which stream a packet belongs to; the value is the stream's index in a segment."""

    video = 0
    audio = 1


@dataclass(slots=True)
class Packet:
    """One access unit. ``pts``/``dts`` are in its track's ``time_base``; None when the demuxer
    did not know (FFmpeg only, never both: a source drops packets with neither)."""

    data: bytes
    pts: int | None
    dts: int | None
    key_frame: bool
    kind: StreamKind = StreamKind.video


@dataclass(frozen=True)
class VideoTrack:
    """The video stream: ``codec`` is FFmpeg's name (``h264``/``hevc``); width and height are 0
    when the source does not know them before the first key frame (the native client)."""

    codec: str
    time_base: Fraction
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class AudioTrack:
    """The audio stream to store, with its MP4 init (FFmpeg ingest only)."""

    codec: str
    time_base: Fraction
    sample_rate: int
    init: bytes


class PacketSource(Protocol):
    """One connection to one camera. Errors anywhere are ``recorder.status.IngestError`` (with
    its reason), ``TimeoutError``/``OSError`` or PyAV's (``recorder.status.classify_error``
    names them all)."""

    def open(self) -> None:
        """Connect and read the stream's description (RTSP DESCRIBE/SETUP/PLAY)."""

    def video_track(self) -> VideoTrack:
        """The video stream (after ``open``); IngestError (``no_video``) when there is none."""
        ...

    def audio_track(self) -> AudioTrack | None:
        """The audio stream to store (after ``open``), None when audio is not stored or there
        is none; ``MediaError`` when its parameters make no MP4 init."""
        ...

    def packets(self, *, audio: bool) -> Iterator[Packet]:
        """Packets of the video (and, if ``audio``, the audio) stream until the stream ends."""
        ...

    def fallback_init(self) -> bytes:
        """The video MP4 init from the stream's description, for a first key frame without its
        own parameter sets; ``MediaError`` when the description has none either."""
        ...

    @property
    def dropped_frames(self) -> int:
        """Access units dropped so far because RTP packets were missing (native client)."""
        ...

    @property
    def bad_packets(self) -> int:
        """RTP packets so far that were malformed or of an unsupported kind (native client)."""
        ...

    def close(self) -> None:
        """End the connection (RTSP TEARDOWN)."""
