"""The read side: decrypt stored segments, iterate their samples, build fragmented MP4.

Playback and export call these with a ``SegmentKeyOpener`` (the unlocked vault); the caller
writes the access to the ledger first (invariant 5). Nothing here touches the disk but reads.
Where a segment's bytes come from is a ``SegmentSource``: the segments dir (a ``Path``), or a
``SegmentOpener`` such as ``appliance.storage.SegmentFiles`` (the local file, else the object
store through the read cache).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Protocol, TypeAlias

from appliance.errors import FootageCorrupt, MediaError, NotFound
from appliance.media.format import ByteStream, RandomSource, Sample, SegmentReader
from appliance.media.mp4 import Fmp4Muxer
from appliance.media.sealing import SegmentKeyOpener
from appliance.models.media import Segment

__all__ = [
    "FileSource",
    "SegmentOpener",
    "SegmentSource",
    "build_fmp4",
    "iter_packets",
    "open_segment",
]


class SegmentOpener(Protocol):
    """Opens the ciphertext of a segment wherever it lives."""

    def open_bytes(self, segment: Segment) -> ByteStream:
        """The whole file's bytes; FootageCorrupt if it is nowhere."""
        ...

    def open_random(self, segment: Segment) -> RandomSource:
        """The file's bytes by offset (a seek); FootageCorrupt if it is nowhere."""
        ...

    def prefetch(self, segments: Sequence[Segment]) -> None:
        """Start fetching these segments (about to be read) where that helps; never blocks."""
        ...

    def open_early(self, segment: Segment, at_ms: int | None = None) -> None:
        """Start the read an ``open_bytes`` of this segment (from ``at_ms``) will make, where
        that helps; never blocks."""
        ...

    @property
    def remote(self) -> bool:
        """Whether segments may live in an object store (else only on this node's disk)."""
        ...

    def warm_tails(self, segments: Sequence[Segment]) -> int:
        """Start fetching what a seek into these segments reads first; never blocks."""
        ...


class FileSource:
    """A local segment file as a ``RandomSource``."""

    def __init__(self, path: Path) -> None:
        try:
            self._file = path.open("rb")
        except FileNotFoundError as exc:
            raise FootageCorrupt(f"segment file {path} is missing") from exc
        self.size = os.fstat(self._file.fileno()).st_size

    def read_at(self, start: int, end: int) -> bytes:
        return os.pread(self._file.fileno(), max(0, end - start), start)

    def stream_from(self, start: int, upto: int | None = None) -> ByteStream:
        self._file.seek(start)
        return self._file

    def close(self) -> None:
        self._file.close()


SegmentSource: TypeAlias = Path | SegmentOpener


def open_segment(
    segment: Segment,
    key_opener: SegmentKeyOpener,
    segments_dir: SegmentSource,
    *,
    at_ms: int | None = None,
) -> SegmentReader:
    """A reader over the segment's file, checked against the row's hash as it is read.

    With ``at_ms`` after the segment's start, the reader starts at the message holding the
    last key frame at or before it (``SegmentReader.seek``: nothing before it is read or
    decrypted; every message read is authenticated, the whole file's hash is not checked).

    The file's authenticated head must name the row's camera: a row relabelled, or pointed at
    another camera's file (path, key and digest swapped in the database), is refused, so a
    grant to one camera never shows another's footage.
    """
    if segment.sealed_key is None:
        raise NotFound(f"segment {segment.id} was destroyed (its key is shredded)")
    key = key_opener.open_segment_key(segment.vault_key_id, segment.sealed_key)
    if at_ms is not None and at_ms > segment.start_ms:
        source = (
            FileSource(segments_dir / segment.path)
            if isinstance(segments_dir, Path)
            else segments_dir.open_random(segment)
        )
        reader = SegmentReader.seek(
            source, key, at_ms, expected_digest=segment.digest, name=segment.path
        )
    elif isinstance(segments_dir, Path):
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
    seek: bool = True,
    on_first_frame: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """A fragmented MP4 of [start_ms, end_ms) of one camera, across segment boundaries.

    It starts at the key frame at or before ``start_ms`` (the enclosing key frame) and ends with
    the last frame before ``end_ms``. Gaps between segments are closed (the next segment follows
    the previous one) unless ``keep_gaps``, which keeps the wall-clock spacing. With ``audio``,
    stored audio (groups that allow it) becomes a second track (declare ``mp4a`` to MSE then).
    Yields the MP4 bytes as fragments are completed (one per key frame), so a long range streams.
    With ``seek`` the first segment is read from the message holding that key frame
    (``open_segment``'s ``at_ms``); without it every segment is read from its start and its
    whole hash checked when it is read to its end. ``on_first_frame`` is called with the wall
    time of the first frame (the pre-roll's key frame) before any byte is yielded, so a viewer's
    span is corrected without reading the footage twice.
    """
    if end_ms <= start_ms:
        raise MediaError("empty time range")
    chosen = sorted(
        (s for s in segments if s.end_ms > start_ms and s.start_ms < end_ms),
        key=lambda s: s.start_ms,
    )
    if not chosen:
        raise NotFound("no recording in that range")
    prefetched = 0  # segments of ``chosen`` whose read-ahead was asked for

    def ahead(number: int) -> None:
        """Once segment ``number`` has sent its first bytes (the viewer is served), have the
        source fetch the next one while this one plays (an object store: into the cache)."""
        nonlocal prefetched
        if prefetched <= number + 1 and not isinstance(segments_dir, Path):
            prefetched = number + 2
            segments_dir.prefetch(chosen[number + 1 : number + 2])

    muxer: Fmp4Muxer | None = None
    base = Fraction(1)  # output time base (the first segment's video time base)
    shift = 0
    first_wall_ms = 0
    last_dts: int | None = None
    last_duration = 0
    try:
        for number, segment in enumerate(chosen):
            at_ms = start_ms if seek and number == 0 else None
            with open_segment(segment, key_opener, segments_dir, at_ms=at_ms) as reader:
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
                                ahead(number)
                        continue
                    pts, dts = sample.pts, sample.dts
                    if scale != 1:
                        pts, dts = int(pts * scale), int(dts * scale)
                    if offset_s is None:
                        if last_dts is None:
                            shift, first_wall_ms = -dts, sample.wall_ms
                            if on_first_frame is not None:
                                on_first_frame(sample.wall_ms)
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
                        ahead(number)
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
