"""Failed sign-ins that fade: per-account decay (pure) and per-client counters (in memory).

A failure count that never resets lets anyone keep an account locked with one wrong password
an hour; here one failure is forgiven per ``decay_s`` since the last one, so a slow trickle
never adds up. Counting failures per client address as well lets the sign-in throttle the
client that guesses (``ClientFailures``) and lets a lock set by *other* clients be passed with
the right password and second factor (see ``login.LoginService``).

The per-client counters live in the web process's memory (a restart forgets them; the
account's own lock is in the database). They are bounded: at most ``max_clients`` addresses,
the faded ones dropped first. IPv6 clients count per /64, the block one host usually gets.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass

from appliance.errors import RateLimited

__all__ = ["ClientFailures", "LoginThrottled", "client_key", "decayed_failures"]


class LoginThrottled(RateLimited):
    """Too many failed sign-ins from this client; says nothing about any account."""

    retry_after_s: int

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many failed sign-ins from this address; try again in {retry_after_s} s",
            retry_after_s,
        )


def decayed_failures(failures: int, last_ms: int, now_ms: int, decay_s: int) -> int:
    """``failures`` counted at ``last_ms``, less one per ``decay_s`` elapsed since (at least 0)."""
    if failures <= 0:
        return 0
    forgiven = max(0, now_ms - last_ms) // (decay_s * 1000)
    return int(max(0, failures - forgiven))


def client_key(remote_addr: str) -> str:
    """The throttling key of a client address: the address itself, or its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr  # not an address (a test client, a unix socket): as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class _Count:
    failures: int
    last_ms: int


class ClientFailures:
    """Failed sign-ins per client key, fading like an account's (thread-safe, bounded)."""

    def __init__(self, threshold: int, decay_s: int, max_clients: int = 10_000) -> None:
        self.threshold = threshold
        self.decay_s = decay_s
        self.max_clients = max_clients
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()

    def failures(self, key: str, now_ms: int) -> int:
        """The client's failures still counted at ``now_ms``."""
        with self._lock:
            count = self._counts.get(key)
            if count is None:
                return 0
            return decayed_failures(count.failures, count.last_ms, now_ms, self.decay_s)

    def retry_after_s(self, key: str, now_ms: int) -> int:
        """Seconds until the client may try again (0: it may now)."""
        with self._lock:
            count = self._counts.get(key)
            if count is None:
                return 0
            left = decayed_failures(count.failures, count.last_ms, now_ms, self.decay_s)
            if left < self.threshold:
                return 0
            # Below the threshold after (left - threshold + 1) more decay periods.
            until_ms = count.last_ms + (count.failures - self.threshold + 1) * self.decay_s * 1000
            return max(1, -(-(until_ms - now_ms) // 1000))

    def add_failure(self, key: str, now_ms: int) -> int:
        """Count one more failure; the client's failures now."""
        with self._lock:
            count = self._counts.get(key)
            left = (
                decayed_failures(count.failures, count.last_ms, now_ms, self.decay_s)
                if count
                else 0
            )
            self._counts[key] = _Count(left + 1, now_ms)
            if len(self._counts) > self.max_clients:
                self._prune(now_ms)
            return left + 1

    def _prune(self, now_ms: int) -> None:
        faded = [
            key
            for key, c in self._counts.items()
            if decayed_failures(c.failures, c.last_ms, now_ms, self.decay_s) == 0
        ]
        for key in faded:
            del self._counts[key]
        # Still too many: drop the oldest (the least recent failure) first.
        excess = len(self._counts) - self.max_clients
        if excess > 0:
            for key in sorted(self._counts, key=lambda k: self._counts[k].last_ms)[:excess]:
                del self._counts[key]
