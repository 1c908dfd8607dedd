"""The read side: decrypt stored segments, iterate their samples, build fragmented MP4.

Playback and export call these with a ``SegmentKeyOpener`` (the unlocked vault); the caller
writes the access to the ledger first (invariant 5). Nothing here touches the disk but reads.
Where a segment's bytes come from is a ``SegmentSource``: the segments dir (a ``Path``), or a
``SegmentOpener`` such as ``appliance.storage.SegmentFiles`` (the local file, else the object
store through the read cache).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Protocol, TypeAlias

from appliance.errors import FootageCorrupt, MediaError, NotFound
from appliance.media.format import ByteStream, Sample, SegmentReader
from appliance.media.mp4 import Fmp4Muxer
from appliance.media.sealing import SegmentKeyOpener
from appliance.models.media import Segment

__all__ = ["SegmentOpener", "SegmentSource", "build_fmp4", "iter_packets", "open_segment"]


class SegmentOpener(Protocol):
    """Opens the ciphertext of a segment wherever it lives."""

    def open_bytes(self, segment: Segment) -> ByteStream:
        """The whole file's bytes; FootageCorrupt if it is nowhere."""
        ...


SegmentSource: TypeAlias = Path | SegmentOpener


def open_segment(
    segment: Segment, key_opener: SegmentKeyOpener, segments_dir: SegmentSource
) -> SegmentReader:
    """A reader over the segment's file, checked against the row's hash as it is read.

    The file's authenticated head must name the row's camera: a row relabelled, or pointed at
    another camera's file (path, key and digest swapped in the database), is refused, so a
    grant to one camera never shows another's footage.
    """
    if segment.sealed_key is None:
        raise NotFound(f"segment {segment.id} was destroyed (its key is shredded)")
    key = key_opener.open_segment_key(segment.vault_key_id, segment.sealed_key)
    if isinstance(segments_dir, Path):
        reader = SegmentReader(segments_dir / segment.path, key, expected_digest=segment.digest)
    else:
        reader = SegmentReader(
            segments_dir.open_bytes(segment),
            key,
            expected_digest=segment.digest,
            name=segment.path,
        )
    if reader.head.camera_id != segment.camera_id:
        reader.close()
        raise FootageCorrupt(
            f"segment {segment.id}: the file belongs to camera {reader.head.camera_id!r}, "
            f"the row to camera {segment.camera_id!r}"
        )
    return reader


def iter_packets(
    segment: Segment, key_opener: SegmentKeyOpener, segments_dir: SegmentSource
) -> Iterator[Sample]:
    """Every stored sample of ``segment`` in file order (all streams), verified.

    Raises FootageCorrupt (possibly after some samples) if the file or the row was altered.
    """
    with open_segment(segment, key_opener, segments_dir) as reader:
        yield from reader
        summary = reader.summary
        if summary is None or (summary.start_ms, summary.end_ms, summary.frames) != (
            segment.start_ms,
            segment.end_ms,
            segment.frames,
        ):
            raise FootageCorrupt(f"segment {segment.id}: the row does not match the file")


def build_fmp4(
    segments: Iterable[Segment],
    start_ms: int,
    end_ms: int,
    key_opener: SegmentKeyOpener,
    segments_dir: SegmentSource,
    *,
    keep_gaps: bool = False,
    audio: bool = False,
) -> Iterator[bytes]:
    """A fragmented MP4 of [start_ms, end_ms) of one camera, across segment boundaries.

    It starts at the key frame at or before ``start_ms`` (the enclosing key frame) and ends with
    the last frame before ``end_ms``. Gaps between segments are closed (the next segment follows
    the previous one) unless ``keep_gaps``, which keeps the wall-clock spacing. With ``audio``,
    stored audio (groups that allow it) becomes a second track (declare ``mp4a`` to MSE then).
    Yields the MP4 bytes as fragments are completed (one per key frame), so a long range streams.
    """
    if end_ms <= start_ms:
        raise MediaError("empty time range")
    chosen = sorted(
        (s for s in segments if s.end_ms > start_ms and s.start_ms < end_ms),
        key=lambda s: s.start_ms,
    )
    if not chosen:
        raise NotFound("no recording in that range")
    muxer: Fmp4Muxer | None = None
    base = Fraction(1)  # output time base (the first segment's video time base)
    shift = 0
    first_wall_ms = 0
    last_dts: int | None = None
    last_duration = 0
    try:
        for segment in chosen:
            with open_segment(segment, key_opener, segments_dir) as reader:
                head = reader.head
                video = head.video
                if muxer is None:
                    sound = head.streams[1] if audio and len(head.streams) > 1 else None
                    muxer = Fmp4Muxer(video, sound)
                    base = video.time_base
                scale = video.time_base / base
                # Output seconds = stream seconds + offset_s, fixed by the segment's first
                # emitted video sample; audio follows the same offset (same RTSP clock).
                offset_s: Fraction | None = None
                for sample in _in_range(reader, start_ms, end_ms):
                    if sample.stream_index != 0:
                        if offset_s is None or not muxer.has_audio:
                            continue
                        tb = head.streams[sample.stream_index].time_base
                        out_s = sample.pts * tb + offset_s
                        if out_s >= 0:
                            data = muxer.feed_audio(sample, int(out_s / tb), tb)
                            if data:
                                yield data
                        continue
                    pts, dts = sample.pts, sample.dts
                    if scale != 1:
                        pts, dts = int(pts * scale), int(dts * scale)
                    if offset_s is None:
                        if last_dts is None:
                            shift, first_wall_ms = -dts, sample.wall_ms
                        else:
                            target = last_dts + max(last_duration, 1)
                            if keep_gaps:
                                wall_ts = int(Fraction(sample.wall_ms - first_wall_ms, 1000) / base)
                                target = max(target, wall_ts)
                            shift = target - dts
                        offset_s = shift * base
                    out_dts = dts + shift
                    if last_dts is not None and out_dts <= last_dts:
                        shift += last_dts + 1 - out_dts
                        out_dts = last_dts + 1
                    duration = int(sample.duration * scale)
                    data = muxer.feed(sample, pts + shift, out_dts, duration, base)
                    last_dts, last_duration = out_dts, duration
                    if data:
                        yield data
        if muxer is None or muxer.frames == 0:
            raise NotFound("no frames in that range")
        yield muxer.close()
        muxer = None
    finally:
        if muxer is not None:
            muxer.abort()


def _in_range(reader: SegmentReader, start_ms: int, end_ms: int) -> Iterator[Sample]:
    """Video from the key frame enclosing ``start_ms`` to before ``end_ms``, and the audio
    from that key frame on, in file order."""
    pending: list[Sample] = []  # the current GOP (and its audio) while still before start_ms
    started = False
    for sample in reader:
        is_video = sample.stream_index == 0
        if is_video and sample.wall_ms >= end_ms:
            break
        if started:
            if is_video or sample.wall_ms < end_ms:
                yield sample
        elif not is_video:
            if pending:
                pending.append(sample)
        elif sample.wall_ms <= start_ms:
            if sample.is_key:
                pending = [sample]
            elif pending:
                pending.append(sample)
        elif pending or sample.is_key:
            started = True
            yield from pending
            pending = []
            yield sample
    if not started:
        yield from pending
