"""Stored video samples of one camera and time range, read across segments, in memory only."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass

from appliance.errors import NotFound
from appliance.media import Sample, SegmentSource, StreamInfo, open_segment
from appliance.media.sealing import SegmentKeyOpener
from appliance.models import Segment

__all__ = ["TimedSample", "samples_in_range"]


@dataclass(frozen=True)
class TimedSample:
    """A video sample with its stream description (which may change between segments)."""

    sample: Sample
    video: StreamInfo


def samples_in_range(
    segments: Iterable[Segment],
    start_ms: int,
    end_ms: int,
    keys: SegmentKeyOpener,
    segments_dir: SegmentSource,
) -> Generator[TimedSample, None, None]:
    """Video samples from the key frame at or before ``start_ms`` up to before ``end_ms``."""
    chosen = sorted(
        (s for s in segments if s.end_ms > start_ms and s.start_ms < end_ms),
        key=lambda s: s.start_ms,
    )
    if not chosen:
        raise NotFound("no recording in that range")
    pending: list[TimedSample] = []  # the GOP that contains start_ms, until start_ms is passed
    started = False
    for number, segment in enumerate(chosen):
        # The first segment is read from the key frame before start_ms (a seek), not its start.
        at_ms = start_ms if number == 0 else None
        with open_segment(segment, keys, segments_dir, at_ms=at_ms) as reader:
            video = reader.head.video
            for sample in reader:
                if sample.stream_index != 0:
                    continue
                if sample.wall_ms >= end_ms:
                    break
                item = TimedSample(sample, video)
                if started:
                    yield item
                elif sample.wall_ms <= start_ms:
                    if sample.is_key:
                        pending = [item]
                    elif pending:
                        pending.append(item)
                elif pending or sample.is_key:
                    started = True
                    yield from pending
                    pending = []
                    yield item
    if not started:
        yield from pending
