"""The ``ledger`` daemon of ``appliance run``: signs heads every ``ledger.head_interval_s`` (also
when nothing changed: the heartbeat ``ledger verify`` checks for gaps) and on stop, records
system start and stop, and runs the retention cut once a day.

``LedgerDaemon`` takes its parts (ledger, clock, interval); ``create`` is the entry point and
reads them off whatever carries them (the ``AppContext``), named by a protocol so this package
never imports the context (tests/test_layering.py).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Protocol

from appliance import __version__
from appliance.clock import Clock
from appliance.errors import ApplianceError, VaultLocked
from appliance.ledger.events import EventType
from appliance.ledger.heads import SignedHead
from appliance.ledger.store import Ledger
from appliance.settings import Settings

__all__ = ["LedgerDaemon", "LedgerParts", "create"]

log = logging.getLogger(__name__)

CUT_INTERVAL_S = 86_400.0


class LedgerParts(Protocol):
    """What ``create`` reads its parts from (``AppContext`` has them)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def clock(self) -> Clock: ...


class LedgerDaemon:
    """Signs a head when the chain moved or the last one is an interval old; cuts daily."""

    name = "ledger"

    def __init__(
        self,
        ledger: Ledger,
        clock: Clock,
        *,
        head_interval_s: float,
        cut_interval_s: float = CUT_INTERVAL_S,
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._interval_s = float(head_interval_s)
        self._cut_interval_s = cut_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._signed_seq: int | None = None
        self._signed_ms: int | None = None
        self._next_cut = clock.monotonic()  # first cut right after start

    def start(self) -> None:
        self._ledger.append(
            EventType.system_start,
            actor="system",
            data={"version": __version__, "pid": os.getpid()},
        )
        self.tick()
        self._thread = threading.Thread(target=self._run, name="ledger-heads", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            self._ledger.append(
                EventType.system_stop, actor="system", data={"version": __version__}
            )
        finally:
            self._sign()  # the last head covers everything up to the shutdown

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def tick(self) -> SignedHead | None:
        """One round: sign if the chain moved or the last head is an interval old (the
        heartbeat), cut if a day has passed; return the new head."""
        head = None
        due = (
            self._signed_ms is None
            or self._clock.now_ms() - self._signed_ms >= self._interval_s * 1000
        )
        if due or self._ledger.tip().seq != self._signed_seq:
            head = self._sign()
        if self._clock.monotonic() >= self._next_cut:
            self._next_cut = self._clock.monotonic() + self._cut_interval_s
            result = self._ledger.cut()
            if result is not None:
                log.info(
                    "ledger cut: %d entries, checkpoint at seq %d",
                    result.entries_removed,
                    result.checkpoint.seq,
                )
                head = self._sign()
        return head

    def _sign(self) -> SignedHead:
        head = self._ledger.sign_head()
        self._signed_seq, self._signed_ms = head.seq, head.signed_ms
        return head

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.tick()
            except VaultLocked:
                # The signing key is sealed under the vault keyring: heads wait for the first
                # unlock after a start (the vault-locked alarm says so); entries are still chained.
                log.warning("no ledger head signed: the vault has not been unlocked since start")
            except ApplianceError:
                # Keep signing later heads; a tampered or unwritable ledger is logged loudly and
                # `appliance ledger verify` names the problem.
                log.exception("ledger head/cut round failed")


def create(ctx: LedgerParts) -> LedgerDaemon:
    """Entry point of the ``appliance.daemons`` group (called with the ``AppContext``)."""
    return LedgerDaemon(ctx.ledger, ctx.clock, head_interval_s=ctx.settings.ledger.head_interval_s)
