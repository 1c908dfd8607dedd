"""The ``ledger`` service of ``appliance run``: signs heads every ``ledger.head_interval_s`` and on
stop, records system start and stop, and runs the retention cut once a day."""

from __future__ import annotations

import logging
import os
import threading

from appliance import __version__
from appliance.context import AppContext
from appliance.errors import ApplianceError
from appliance.ledger.events import EventType
from appliance.ledger.heads import SignedHead

__all__ = ["LedgerDaemon", "create"]

log = logging.getLogger(__name__)

CUT_INTERVAL_S = 86_400.0


class LedgerDaemon:
    """Signs a head whenever the chain moved since the last one; cuts old entries daily."""

    name = "ledger"

    def __init__(self, ctx: AppContext, *, cut_interval_s: float = CUT_INTERVAL_S) -> None:
        self._ctx = ctx
        self._ledger = ctx.ledger
        self._interval_s = float(ctx.settings.ledger.head_interval_s)
        self._cut_interval_s = cut_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._signed_seq: int | None = None
        self._next_cut = ctx.clock.monotonic()  # first cut right after start

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
        """One round: sign if the chain moved, cut if a day has passed; return the new head."""
        head = None
        if self._ledger.tip().seq != self._signed_seq:
            head = self._sign()
        if self._ctx.clock.monotonic() >= self._next_cut:
            self._next_cut = self._ctx.clock.monotonic() + self._cut_interval_s
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
        self._signed_seq = head.seq
        return head

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.tick()
            except ApplianceError:
                # Keep signing later heads; a tampered or unwritable ledger is logged loudly and
                # `appliance ledger verify` names the problem.
                log.exception("ledger head/cut round failed")


def create(ctx: AppContext) -> LedgerDaemon:
    """Entry point of the ``appliance.daemons`` group."""
    return LedgerDaemon(ctx)
