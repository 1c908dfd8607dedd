"""The web/API server as a supervised service (uvicorn in a thread of ``appliance run``),
with a sweeper that ends viewing sessions past their expiry, so each one's closing ledger
entry is written on time even when no one calls the API again."""

from __future__ import annotations

import logging
import threading
import time

import uvicorn

from api.app import create_app
from appliance.context import AppContext
from appliance.viewing import ViewingService

__all__ = ["SHUTDOWN_GRACE_S", "SWEEP_INTERVAL_S", "WebDaemon", "create"]

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 30.0
_START_WAIT_S = 30.0
# On stop, open streams get this long before they are cancelled: a live view being watched never
# ends by itself, and uvicorn would wait for it past the join timeout of ``stop`` (10 s), its
# thread still serving, while a restart waits (found by bench/soak.py).
SHUTDOWN_GRACE_S = 2


class WebDaemon:
    name = "web"

    def __init__(self, ctx: AppContext) -> None:
        server = ctx.settings.server
        self.app = create_app(ctx)
        config = uvicorn.Config(
            self.app,
            host=server.host,
            port=server.port,
            ssl_certfile=str(server.tls_cert) if server.tls_cert else None,
            ssl_keyfile=str(server.tls_key) if server.tls_key else None,
            log_level="info",
            access_log=False,
            # X-Forwarded-For/-Proto are believed from the configured proxy only (deploy/nginx):
            # the client address the throttles and the ledger see, and https for the vault page.
            proxy_headers=True,
            forwarded_allow_ips=list(server.trusted_proxies),
            # Bounded under a flood: connections beyond limit_concurrency get 503, the listen
            # queue is backlog long, idle keep-alives close (issue 13, finding 4).
            limit_concurrency=server.limit_concurrency,
            backlog=server.backlog,
            timeout_keep_alive=server.timeout_keep_alive_s,
            h11_max_incomplete_event_size=64 * 1024,  # request line and headers
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_loop, name="web-sweep", daemon=True)

    def sweep(self) -> int:
        """End every viewing session past its expiry (with its ledger entry); how many."""
        viewing: ViewingService = self.app.state.viewing
        return viewing.close_expired()

    def _sweep_loop(self) -> None:
        while not self._stop.wait(SWEEP_INTERVAL_S):
            try:
                self.sweep()
            except Exception:  # a failed sweep is retried at the next interval
                log.exception("closing expired viewing sessions failed")

    def start(self) -> None:
        """Start serving; return once uvicorn listens (so READY=1 means the pages answer),
        or its thread ended (a port taken: the supervisor sees it dead), or after 30 s."""
        self._thread.start()
        self._sweeper.start()
        deadline = time.monotonic() + _START_WAIT_S
        while not self.listening and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)

    @property
    def listening(self) -> bool:
        return bool(self._server.started)

    def stop(self) -> None:
        self._stop.set()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sweeper.join(timeout=10)
        self.sweep()

    def alive(self) -> bool:
        return self._thread.is_alive()


def create(ctx: AppContext) -> WebDaemon:
    return WebDaemon(ctx)
