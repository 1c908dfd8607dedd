"""H.265 footage to H.264 fragmented MP4, in memory, for the viewed range only.

Debian's Chromium cannot play H.265 (architecture.md), so playback decodes the stored H.265
samples with PyAV and re-encodes them with libx264 (veryfast). Frames before the requested
start are decoded (a GOP starts at a key frame) but not encoded, so the output starts exactly
at the requested time. Nothing is written to disk: the muxer writes into a Python sink.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import av

from appliance.errors import MediaError, NotFound
from appliance.media._nal import annexb_to_length_prefixed
from appliance.media.mp4 import FragmentSink, open_fmp4
from appliance.viewing.frames import TimedSample

__all__ = ["GOP_S", "transcode_to_h264"]

GOP_S = 2  # a key frame (and a fragment) every two seconds of output
_LENGTH_PREFIXED = frozenset({"h264", "hevc"})


def _rate(item: TimedSample) -> Fraction:
    step = item.sample.duration * item.video.time_base
    if step <= 0:
        return Fraction(25)
    return Fraction(1) / step if 1 / step <= 120 else Fraction(25)


class _Decoder:
    """A decoder for one stored stream description (rebuilt when the parameters change)."""

    def __init__(self, video: Any) -> None:
        self.info = video
        self._template = av.open(io.BytesIO(video.init))
        stream = self._template.streams.video[0]
        self.context: Any = av.CodecContext.create(stream.codec_context.name, "r")
        self.context.extradata = stream.codec_context.extradata
        self.context.thread_type = "AUTO"  # frame threads: both cores decode
        self.time_base = video.time_base

    def decode(self, item: TimedSample) -> list[Any]:
        data = item.sample.data
        if self.info.codec in _LENGTH_PREFIXED:
            data = annexb_to_length_prefixed(data)
        packet = av.Packet(data)
        packet.pts, packet.dts = item.sample.pts, item.sample.dts
        packet.time_base = self.time_base
        return list(self.context.decode(packet))

    def flush(self) -> list[Any]:
        with contextlib.suppress(av.FFmpegError):
            return list(self.context.decode(None))
        return []

    def close(self) -> None:
        self._template.close()


def transcode_to_h264(samples: Iterator[TimedSample], start_ms: int) -> Iterator[bytes]:
    """Fragmented MP4 (H.264) of ``samples`` from ``start_ms`` on; yields bytes per fragment."""
    first = next(samples, None)
    if first is None:
        raise NotFound("no frames in that range")
    rate = _rate(first)
    sink = FragmentSink()
    # Fragments also close every second (not only at key frames), so pictures flow sooner.
    out: Any = open_fmp4(sink, frag_duration_ms=1000)
    stream: Any = None
    decoder: _Decoder | None = None
    wall_by_pts: dict[int, int] = {}
    encoded = 0
    try:

        def encode(frames: list[Any]) -> Iterator[bytes]:
            nonlocal stream, encoded
            for frame in frames:
                wall = wall_by_pts.pop(frame.pts, None)
                if wall is None or wall < start_ms:
                    continue
                if stream is None:
                    stream = out.add_stream("libx264", rate=rate)
                    stream.width, stream.height = frame.width, frame.height
                    stream.pix_fmt = "yuv420p"
                    stream.codec_context.gop_size = max(1, int(rate * GOP_S))
                    stream.codec_context.options = {"preset": "veryfast", "bf": "0"}
                    stream.codec_context.time_base = Fraction(1) / rate
                if frame.format.name != "yuv420p":
                    frame = frame.reformat(format="yuv420p")
                frame.pts = encoded
                frame.time_base = stream.codec_context.time_base
                encoded += 1
                for packet in stream.encode(frame):
                    out.mux(packet)
                data = sink.take()
                if data:
                    yield data

        item: TimedSample | None = first
        while item is not None:
            if decoder is None or decoder.info != item.video:
                if decoder is not None:
                    yield from encode(decoder.flush())
                    decoder.close()
                decoder = _Decoder(item.video)
            wall_by_pts[item.sample.pts] = item.sample.wall_ms
            yield from encode(decoder.decode(item))
            item = next(samples, None)
        if decoder is not None:
            yield from encode(decoder.flush())
        if stream is None:
            raise NotFound("no frames in that range")
        for packet in stream.encode(None):
            out.mux(packet)
        out.close()
        out = None
        tail = sink.take()
        if tail:
            yield tail
    except av.FFmpegError as exc:
        raise MediaError(f"transcoding failed: {exc}") from exc
    finally:
        if decoder is not None:
            decoder.close()
        if out is not None:
            with contextlib.suppress(av.FFmpegError):
                out.close()
