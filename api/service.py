"""The web/API server as a supervised service (uvicorn in a thread of ``appliance run``)."""

from __future__ import annotations

import threading

import uvicorn

from api.app import create_app
from appliance.context import AppContext

__all__ = ["WebService", "create"]


class WebService:
    name = "web"

    def __init__(self, ctx: AppContext) -> None:
        server = ctx.settings.server
        config = uvicorn.Config(
            create_app(ctx),
            host=server.host,
            port=server.port,
            ssl_certfile=str(server.tls_cert) if server.tls_cert else None,
            ssl_keyfile=str(server.tls_key) if server.tls_key else None,
            log_level="info",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def alive(self) -> bool:
        return self._thread.is_alive()


def create(ctx: AppContext) -> WebService:
    return WebService(ctx)
