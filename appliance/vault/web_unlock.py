"""Unlocking the vault from a web page after a power cut: over TLS or from loopback only,
a few attempts per window per box, every attempt in the ledger.

The passphrase opens every private key, so it must not cross the network in clear: the page is
served to a connection that is TLS (``https``: the appliance's own certificate, or a
TLS-terminating reverse proxy on the box whose ``X-Forwarded-Proto`` uvicorn trusts from
loopback only) or that comes from the box itself (a loopback peer). Anything else is refused
with the reason (``channel_refusal``, pure). Guessing is bounded by ``UnlockAttempts`` (per box,
in this process: a restart needs root, who holds the keys anyway) on top of the argon2id cost,
and attempts run one at a time. The keeper (``VaultKeeper.unlock``) records a success as
``vault_unlocked`` and a wrong passphrase as a ``login_failure``; a refused channel or a
throttled attempt is recorded here as a ``login_failure`` too, so every attempt is in the ledger.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import deque
from dataclasses import dataclass, field

from appliance.clock import Clock
from appliance.errors import PermissionDenied, RateLimited
from appliance.vault.events import record_event
from appliance.vault.registry import VaultKeeper

__all__ = [
    "MAX_ATTEMPTS",
    "WINDOW_S",
    "UnlockAttempts",
    "WebUnlock",
    "channel_refusal",
    "is_loopback",
]

MAX_ATTEMPTS = 5
WINDOW_S = 15 * 60


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1); a name is not."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def channel_refusal(scheme: str, peer: str) -> str | None:
    """Why a passphrase may not be typed over this connection, or None if it may."""
    if scheme == "https" or is_loopback(peer):
        return None
    return (
        "the vault passphrase is accepted only over HTTPS or from the appliance itself "
        f"(loopback); this connection is plain {scheme or 'HTTP'} from {peer or 'an unknown peer'}"
    )


@dataclass
class UnlockAttempts:
    """At most ``limit`` attempts in any ``window_s`` seconds (a sliding window)."""

    limit: int = MAX_ATTEMPTS
    window_s: int = WINDOW_S
    _times_ms: deque[int] = field(default_factory=deque)

    def retry_after_s(self, now_ms: int) -> int:
        """0 if an attempt may be made now, else the seconds until one may."""
        while self._times_ms and self._times_ms[0] <= now_ms - self.window_s * 1000:
            self._times_ms.popleft()
        if len(self._times_ms) < self.limit:
            return 0
        return (self._times_ms[0] + self.window_s * 1000 - now_ms + 999) // 1000

    def add(self, now_ms: int) -> None:
        self._times_ms.append(now_ms)


class WebUnlock:
    """The box's one gate in front of ``VaultKeeper.unlock`` for the web page."""

    def __init__(self, keeper: VaultKeeper, clock: Clock, attempts: UnlockAttempts | None = None):
        self.keeper = keeper
        self.clock = clock
        self.attempts = attempts or UnlockAttempts()
        self._one_at_a_time = threading.Lock()

    def unlock(self, passphrase: str, *, actor: str, scheme: str, peer: str) -> None:
        """Unlock, or raise PermissionDenied (channel), RateLimited or AuthenticationFailed."""
        refusal = channel_refusal(scheme, peer)
        if refusal is not None:
            self._refused(actor, peer, "vault unlock refused: not over TLS or from loopback")
            raise PermissionDenied(refusal)
        with self._one_at_a_time:
            now = self.clock.now_ms()
            wait_s = self.attempts.retry_after_s(now)
            if wait_s:
                self._refused(actor, peer, "vault unlock refused: too many attempts")
                raise RateLimited(
                    f"too many vault unlock attempts; try again in {wait_s} s", wait_s
                )
            self.attempts.add(now)
            self.keeper.unlock(passphrase, actor)

    def _refused(self, actor: str, peer: str, reason: str) -> None:
        with self.keeper.db.session() as session:
            record_event(
                self.keeper.ledger,
                session,
                "login_failure",
                actor=actor,
                data={"username": actor, "remote": peer, "reason": reason},
            )
