"""Stream time to wall-clock time, and when to cut a segment (pure decisions, no I/O).

Within one RTSP session (a run) stored timestamps must be monotonic and continuous, whatever the
camera sends: a timestamp that goes back or leaps forward (camera clock reset, RTP wrap, packet
loss) is closed up, so a segment's timeline has no holes and the muxer never sees time reversal.
Wall clock is anchored once per run (the arrival time of the first key frame) and follows the
stream's own clock from there; it is re-anchored at a segment boundary if it has drifted from
the system clock by more than ``DRIFT_LIMIT_MS``, never backwards past what is already stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "DRIFT_LIMIT_MS",
    "StreamTimeline",
    "WallClockMap",
    "should_cut",
]

DRIFT_LIMIT_MS = 1000


class StreamTimeline:
    """Normalises one stream's (pts, dts) so dts strictly increases in steps of at most
    ``max_step_s``; ``jumps`` counts the discontinuities closed up."""

    def __init__(
        self, time_base: Fraction, *, max_step_s: float = 5.0, default_step_s: float = 0.04
    ):
        self.time_base = time_base
        self._max_step = max(1, int(Fraction(max_step_s) / time_base))
        self._step = max(1, int(Fraction(default_step_s) / time_base))
        self._offset = 0
        self._last: int | None = None
        self.jumps = 0

    def normalize(self, pts: int | None, dts: int | None) -> tuple[int, int]:
        if dts is None:
            dts = pts if pts is not None else (self._last_raw() + self._step)
        if pts is None or pts < dts:
            pts = dts
        out = dts + self._offset
        if self._last is not None:
            step = out - self._last
            if step <= 0 or step > self._max_step:
                # Close the discontinuity: continue one typical frame after the last sample.
                self._offset += self._last + self._step - out
                out = self._last + self._step
                self.jumps += 1
            else:
                self._step = step
        self._last = out
        return pts + self._offset, out

    def _last_raw(self) -> int:
        return 0 if self._last is None else self._last - self._offset

    @property
    def typical_step(self) -> int:
        """The last good dts step, used as the duration of a sample with no successor."""
        return self._step


@dataclass(frozen=True)
class WallClockMap:
    """``ts`` (in ``time_base``) happened at ``anchor_wall_ms + (ts - anchor_ts) * tb`` ms."""

    anchor_wall_ms: int
    anchor_ts: int
    time_base: Fraction

    def wall_ms(self, ts: int) -> int:
        # Integer arithmetic, truncating toward zero like SegmentHead.wall_ms (Fraction is
        # slow, and this runs on the recorder's per-key-frame path).
        scaled = (ts - self.anchor_ts) * self.time_base.numerator * 1000
        den = self.time_base.denominator
        offset = scaled // den if scaled >= 0 else -(-scaled // den)
        return self.anchor_wall_ms + offset

    def reanchored(self, ts: int, now_ms: int, floor_ms: int) -> WallClockMap:
        """This map, or a new one anchored at (ts, now) if it drifted; never below ``floor_ms``."""
        mapped = self.wall_ms(ts)
        if abs(now_ms - mapped) <= DRIFT_LIMIT_MS:
            return self
        return WallClockMap(max(now_ms, floor_ms), ts, self.time_base)


def should_cut(
    *,
    is_key: bool,
    segment_start_ms: int,
    sample_wall_ms: int,
    target_ms: int,
    parameters_changed: bool,
) -> bool:
    """Cut before this sample: a key frame once the segment is long enough, or new parameters."""
    if not is_key:
        return False
    return parameters_changed or sample_wall_ms - segment_start_ms >= target_ms
