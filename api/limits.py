"""Limits against unauthenticated floods (issue 13, finding 4), as ASGI middleware.

- ``BodyLimit``: no request body beyond ``server.max_body_bytes`` (document uploads:
  ``server.max_upload_bytes``) is read. A declared Content-Length over the cap is answered 413
  before the application runs (so before authentication); a body without one (chunked) is
  counted as it streams and cut with 413 at the cap.
- ``LoginLimit``: each sign-in runs a 64 MiB argon2id and writes the ledger durably, so
  ``POST /api/auth/login`` is limited per client address (a token bucket of
  ``server.login_rate_per_min``: 429) and in total (``server.login_concurrency`` at once:
  503). Both answer at once with Retry-After; nothing queues.

Both run on the event loop only, so their counters need no lock. The per-client state is
bounded (``_MAX_CLIENTS`` addresses, the fullest buckets dropped first).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.access.throttle import client_key

__all__ = ["UPLOAD_PATHS", "BodyLimit", "LoginLimit"]

# Routes that read a multipart document upload themselves (api/uploads.py caps them again).
UPLOAD_PATHS = re.compile(r"^/api/(requests/[^/]+/documents|agency/requests)$")
LOGIN_PATH = "/api/auth/login"
_MAX_CLIENTS = 10_000


async def _refuse(send: Send, status: int, detail: str, retry_after: int | None = None) -> None:
    body = json.dumps({"detail": detail, "error": "TooLarge" if status == 413 else "Busy"})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


class BodyLimit:
    """Refuse request bodies over a cap with 413, by Content-Length and by counting."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_max_bytes if UPLOAD_PATHS.match(scope["path"]) else self.max_bytes
        detail = f"the request body exceeds {limit} bytes"
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _refuse(send, 400, "bad Content-Length")
                    return
                if declared > limit:
                    await _refuse(send, 413, detail)
                    return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            # Past the cap: answer 413 here (frameworks turn errors raised while reading the
            # body into their own 400) and tell the application the client went away.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _refuse(send, 413, detail)
                    return {"type": "http.disconnect"}
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer; what the application says after is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, watching_send)


class LoginLimit:
    """Per-client rate (429) and total concurrency (503) of ``POST /api/auth/login``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rate_per_min: int,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.capacity = float(rate_per_min)
        self.refill_per_s = rate_per_min / 60.0
        self.concurrency = concurrency
        self.clock = clock
        self.active = 0
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != LOGIN_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = client_key(client[0]) if client else ""
        wait_s = self._take(key)
        if wait_s:
            await _refuse(send, 429, "too many sign-in attempts from this address", wait_s)
            return
        if self.active >= self.concurrency:
            await _refuse(send, 503, "too many sign-ins at once; try again shortly", 1)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1

    def _take(self, key: str) -> int:
        """Take one token from the client's bucket: 0, or seconds until one is there."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.refill_per_s)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.refill_per_s))
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > _MAX_CLIENTS:
            # Drop the fullest buckets (clients that have tried least lately) first.
            for stale in sorted(self._buckets, key=lambda k: -self._buckets[k][0])[
                : len(self._buckets) - _MAX_CLIENTS
            ]:
                del self._buckets[stale]
        return 0
