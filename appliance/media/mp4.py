"""MP4 at the edges: tiny init segments at record time, fragmented MP4 at viewing time.

The trap (architecture.md): a PyAV stream made with ``add_stream("h264")`` plus ``extradata``
muxes no packets. What works: keep the codec parameters as an MP4 init (ftyp+moov, under 1 KiB,
stored encrypted in the segment head) and build output streams with
``add_stream_from_template`` from that init, opened from memory.
"""

from __future__ import annotations

import contextlib
import io
from fractions import Fraction
from typing import Any

import av
from av.container import OutputContainer

from appliance.errors import MediaError
from appliance.media._nal import H264, H265, annexb_to_length_prefixed
from appliance.media.format import Sample, StreamInfo

__all__ = [
    "FMP4_FLAGS",
    "Fmp4Muxer",
    "FragmentSink",
    "init_from_keyframe",
    "init_from_stream",
    "open_fmp4",
]

FMP4_FLAGS = "frag_keyframe+empty_moov+default_base_moof"
_RAW_FORMATS = {H264: "h264", H265: "hevc"}


def init_from_stream(stream: Any) -> bytes:
    """An MP4 init (ftyp+moov, no samples) carrying ``stream``'s codec parameters."""
    sink = io.BytesIO()
    try:
        with open_fmp4(sink) as out:
            out.add_stream_from_template(stream)
            out.start_encoding()
    except (av.FFmpegError, ValueError) as exc:
        raise MediaError(f"cannot make an MP4 init for {stream}: {exc}") from exc
    init = sink.getvalue()
    if b"moov" not in init:
        raise MediaError("the MP4 init has no moov box")
    return init


def init_from_keyframe(codec: str, access_unit: bytes) -> tuple[bytes, int, int]:
    """(init, width, height) from an Annex-B key frame carrying its parameter sets in-band.

    Used when a camera changes its parameters mid-session: FFmpeg's parser reads the new
    SPS from the frame itself (no decoding), so the init always matches the samples.
    """
    raw_format = _RAW_FORMATS.get(codec)
    if raw_format is None:
        raise MediaError(f"no raw format for codec {codec}")
    try:
        with av.open(io.BytesIO(access_unit), format=raw_format) as probe:
            video = probe.streams.video[0]
            ctx = video.codec_context
            return init_from_stream(video), int(ctx.width or 0), int(ctx.height or 0)
    except (av.FFmpegError, IndexError) as exc:
        raise MediaError(f"cannot read the parameters of a {codec} key frame: {exc}") from exc


class FragmentSink:
    """A write-only file object collecting what a muxer writes, drained by the caller."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def open_fmp4(sink: Any, frag_duration_ms: int | None = None) -> OutputContainer:
    """A fragmented-MP4 muxer writing into ``sink`` (a ``FragmentSink`` or ``io.BytesIO``).

    Fragments close at every key frame and, if ``frag_duration_ms`` is given, at least that
    often.
    """
    options = {"movflags": FMP4_FLAGS}
    if frag_duration_ms is not None:
        options["frag_duration"] = str(frag_duration_ms * 1000)
    return av.open(sink, "w", format="mp4", options=options)


class Fmp4Muxer:
    """Muxes stored samples (video, and audio if given) into a fragmented MP4, handing out
    bytes as fragments close.

    Timestamps are rebased so the output starts at 0 and its decode times strictly increase;
    ``feed`` takes samples in the first stream's time base after the caller's rebasing.
    """

    def __init__(self, video: StreamInfo, audio: StreamInfo | None = None) -> None:
        if not video.init:
            raise MediaError("the segment has no MP4 init for its video stream")
        self._codec = video.codec
        self._sink = FragmentSink()
        self._templates: list[Any] = []
        try:
            self._out = open_fmp4(self._sink)
            self._templates.append(av.open(io.BytesIO(video.init)))
            self._stream = self._out.add_stream_from_template(self._templates[0].streams.video[0])
            self._audio_stream = None
            if audio is not None and audio.init:
                self._templates.append(av.open(io.BytesIO(audio.init)))
                template = self._templates[1].streams.audio[0]
                self._audio_stream = self._out.add_stream_from_template(template)
        except (av.FFmpegError, IndexError) as exc:
            self.abort()
            raise MediaError(f"cannot open the stored MP4 init: {exc}") from exc
        self.time_base = video.time_base
        self.frames = 0
        self.audio_frames = 0
        self._last_dts: int | None = None
        self._last_audio_pts: int | None = None

    @property
    def has_audio(self) -> bool:
        return self._audio_stream is not None

    def feed_audio(self, sample: Sample, pts: int, time_base: Fraction) -> bytes:
        """Mux one audio sample (``pts`` in ``time_base``); dropped if there is no audio track."""
        if self._audio_stream is None:
            return b""
        if self._last_audio_pts is not None and pts <= self._last_audio_pts:
            pts = self._last_audio_pts + 1
        self._last_audio_pts = pts
        packet = av.Packet(sample.data)
        packet.pts = packet.dts = pts
        packet.duration = sample.duration
        packet.time_base = time_base
        packet.stream = self._audio_stream
        try:
            self._out.mux(packet)
        except av.FFmpegError as exc:
            raise MediaError(f"muxing audio failed: {exc}") from exc
        self.audio_frames += 1
        return self._sink.take()

    def feed(self, sample: Sample, pts: int, dts: int, duration: int, time_base: Fraction) -> bytes:
        """Mux one sample (timestamps in ``time_base``); return the bytes ready so far."""
        if self._last_dts is not None and dts <= self._last_dts:
            shift = self._last_dts + 1 - dts
            pts, dts = pts + shift, dts + shift
        self._last_dts = dts
        data = sample.data
        if self._codec in _RAW_FORMATS:
            data = annexb_to_length_prefixed(data)
        packet = av.Packet(data)
        packet.pts, packet.dts = pts, dts
        packet.duration = duration
        packet.time_base = time_base
        packet.is_keyframe = sample.is_key
        packet.stream = self._stream
        try:
            self._out.mux(packet)
        except av.FFmpegError as exc:
            raise MediaError(f"muxing failed: {exc}") from exc
        self.frames += 1
        return self._sink.take()

    def close(self) -> bytes:
        """Finish the file; return the last bytes."""
        try:
            self._out.close()
        finally:
            for template in self._templates:
                template.close()
        return self._sink.take()

    def abort(self) -> None:
        for container in (getattr(self, "_out", None), *self._templates):
            if container is not None:
                with contextlib.suppress(av.FFmpegError):
                    container.close()
