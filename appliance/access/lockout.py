"""Login lockout with exponential backoff: pure decisions, the caller stores the counters."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LockoutPolicy", "lock_duration_s"]


@dataclass(frozen=True)
class LockoutPolicy:
    """After ``threshold`` consecutive failures, lock for ``base_s``, doubling up to ``max_s``."""

    threshold: int = 5
    base_s: int = 30
    max_s: int = 3600

    def lock_until_ms(self, failures: int, now_ms: int) -> int:
        """When the account unlocks after ``failures`` consecutive failures (0: not locked)."""
        seconds = lock_duration_s(failures, self.threshold, self.base_s, self.max_s)
        return now_ms + seconds * 1000 if seconds else 0


def lock_duration_s(failures: int, threshold: int, base_s: int, max_s: int) -> int:
    """Seconds to lock after ``failures`` consecutive failures: 0 below the threshold."""
    if failures < threshold:
        return 0
    exponent = min(failures - threshold, 30)  # 2**30 s is beyond any sane cap
    return int(min(base_s * 2**exponent, max_s))
