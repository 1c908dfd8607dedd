"""Timestamp normalisation, wall-clock mapping and cut decisions (pure)."""

from __future__ import annotations

from fractions import Fraction

from recorder.timeline import DRIFT_LIMIT_MS, StreamTimeline, WallClockMap, should_cut

TB = Fraction(1, 90_000)


def test_steady_stream_is_untouched() -> None:
    timeline = StreamTimeline(TB)
    out = [timeline.normalize(t, t) for t in range(1000, 1000 + 10 * 3600, 3600)]
    assert out == [(t, t) for t in range(1000, 1000 + 10 * 3600, 3600)]
    assert timeline.jumps == 0


def test_backward_and_forward_jumps_are_closed_up() -> None:
    timeline = StreamTimeline(TB)
    raw = [0, 3600, 7200, 100, 3700, 10_000_000, 10_003_600]  # back, then 111 s ahead
    out = [timeline.normalize(t, t)[1] for t in raw]
    assert out == [0, 3600, 7200, 10800, 14400, 18000, 21600]
    assert timeline.jumps == 2


def test_missing_timestamps_and_b_frames() -> None:
    timeline = StreamTimeline(TB)
    assert timeline.normalize(None, 0) == (0, 0)
    assert timeline.normalize(10800, 3600) == (10800, 3600)  # B-frame reorder keeps pts > dts
    assert timeline.normalize(7200, None) == (7200, 7200)
    assert timeline.normalize(100, 10800) == (10800, 10800)  # pts before dts is impossible
    assert timeline.typical_step == 3600


def test_wall_clock_map_and_reanchoring() -> None:
    wall = WallClockMap(anchor_wall_ms=1_000_000, anchor_ts=90_000, time_base=TB)
    assert wall.wall_ms(90_000 + 45_000) == 1_000_500
    # Within the drift limit: the same map.
    assert wall.reanchored(180_000, 1_001_000 + DRIFT_LIMIT_MS, 0) is wall
    # The system clock ran ahead (stream paused): re-anchor at now.
    later = wall.reanchored(180_000, 1_010_000, 1_001_000)
    assert later.wall_ms(180_000) == 1_010_000
    # The stream ran ahead: never re-anchor before what is already stored.
    earlier = wall.reanchored(180_000, 990_000, 1_001_000)
    assert earlier.wall_ms(180_000) == 1_001_000


def test_should_cut() -> None:
    def cut(is_key: bool, wall_ms: int, changed: bool = False) -> bool:
        return should_cut(
            is_key=is_key,
            segment_start_ms=0,
            sample_wall_ms=wall_ms,
            target_ms=60_000,
            parameters_changed=changed,
        )

    assert not cut(False, 90_000)
    assert not cut(True, 59_999)
    assert cut(True, 60_000)
    assert cut(True, 10, changed=True)
    assert not cut(False, 10, changed=True)
