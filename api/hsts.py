"""``Strict-Transport-Security`` on every HTTPS response, as ASGI middleware.

A response is HTTPS when the connection was (``server.tls_cert``) or when a trusted proxy said so
(``X-Forwarded-Proto: https``, believed from ``server.trusted_proxies`` only, by uvicorn before
this runs). Over plain HTTP the header means nothing to a browser and is not sent. The proxy of
``deploy/nginx`` sends its own (also on its error pages) and hides this one, so a browser sees
exactly one.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Hsts"]


class Hsts:
    def __init__(self, app: ASGIApp, *, max_age_s: int) -> None:
        self.app = app
        self.value = f"max-age={max_age_s}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"strict-transport-security", self.value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)
