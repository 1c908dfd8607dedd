"""FFmpeg's demuxer through PyAV as a ``recorder.source.PacketSource``.

Used for cameras whose group stores audio (the native client never sets audio up), for
``rtsps://``, when configured (``ingest = "ffmpeg"``), and for a camera the native client handed
over (B-frames). It also reads files, which the worker tests use: the same demuxing path.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import av

from appliance.media.mp4 import init_from_stream
from recorder.source import AudioTrack, Packet, StreamKind, VideoTrack
from recorder.status import FailReason, IngestError

__all__ = ["FfmpegSource"]

_AUDIO = StreamKind.audio


class FfmpegSource:
    """One camera read through ``av.open`` over RTSP/TCP; ``audio``: set up and store audio."""

    def __init__(self, url: str, *, timeout_s: float, audio: bool) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._audio_allowed = audio
        self._container: Any = None  # av.container.InputContainer once open

    def open(self) -> None:
        timeout_s = self._timeout_s
        options = {
            "rtsp_transport": "tcp",
            "timeout": str(int(timeout_s * 1_000_000)),
            # The SDP and the first key frame give the parameters: probe briefly (faster
            # reconnects, and less memory held per camera).
            "analyzeduration": "1000000",
            "probesize": "1000000",
        }
        if not self._audio_allowed:
            # Audio is never even set up, let alone stored (R-REC-3).
            options["allowed_media_types"] = "video"
        # PyAV's own timeout covers opening only: as a read timeout its interrupt callback
        # takes the GIL on every socket read (measured: ~15% more CPU for 30 cameras). Reads
        # are bounded by FFmpeg's socket timeout above, in C.
        self._container = av.open(self._url, options=options, timeout=(timeout_s, None))

    def _video_stream(self) -> Any:
        videos = self._container.streams.video
        if not videos:
            raise IngestError(FailReason.no_video, "the stream has no video track")
        return videos[0]

    def _audio_stream(self) -> Any:
        audios = self._container.streams.audio
        return audios[0] if self._audio_allowed and audios else None

    def video_track(self) -> VideoTrack:
        video = self._video_stream()
        ctx = video.codec_context
        return VideoTrack(
            str(ctx.name), Fraction(video.time_base), int(ctx.width or 0), int(ctx.height or 0)
        )

    def audio_track(self) -> AudioTrack | None:
        audio = self._audio_stream()
        if audio is None:
            return None
        return AudioTrack(
            codec=str(audio.codec_context.name),
            time_base=Fraction(audio.time_base),
            sample_rate=int(audio.codec_context.sample_rate or 0),
            init=init_from_stream(audio),
        )

    def fallback_init(self) -> bytes:
        return init_from_stream(self._video_stream())

    @property
    def dropped_frames(self) -> int:
        return 0  # FFmpeg does not say

    @property
    def bad_packets(self) -> int:
        return 0

    def packets(self, *, audio: bool) -> Iterator[Packet]:
        video = self._video_stream()
        streams = [video]
        audio_index = -1
        if audio and (stream := self._audio_stream()) is not None:
            streams.append(stream)
            audio_index = stream.index
        video_index = video.index
        for packet in self._container.demux(*streams):
            if packet.size == 0 or (packet.dts is None and packet.pts is None):
                continue  # demuxer flush packets carry nothing
            index = packet.stream_index
            if index == video_index:
                yield Packet(bytes(packet), packet.pts, packet.dts, packet.is_keyframe)
            elif index == audio_index:
                yield Packet(bytes(packet), packet.pts, packet.dts, False, _AUDIO)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
