"""``GET /metrics``: the Prometheus text format of ``appliance.health.metrics``.

Not a staff route: a scraper has no account. It is guarded here instead, and declared public
for the route sweep: with ``metrics.token`` set, the scraper sends ``Authorization: Bearer
<token>`` (compared in constant time); without one, only loopback callers are answered, and
never a call relayed by a reverse proxy (``X-Forwarded-For``/``Forwarded``), since the proxy
itself connects from loopback.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Depends, Request, Response

from api.deps import ContextDep, public
from appliance.errors import AuthenticationFailed, PermissionDenied
from appliance.health import health_status
from appliance.health.metrics import CONTENT_TYPE, exposition

__all__ = ["router"]

router = APIRouter(tags=["metrics"])


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics", dependencies=[Depends(public)], include_in_schema=False)
def metrics(http_request: Request, ctx: ContextDep) -> Response:
    token = ctx.settings.metrics.token
    if token:
        scheme, _, given = http_request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise AuthenticationFailed("metrics need the bearer token of metrics.token")
    else:
        relayed = "x-forwarded-for" in http_request.headers or "forwarded" in http_request.headers
        client = http_request.client.host if http_request.client else None
        if relayed or not _loopback(client):
            raise PermissionDenied("metrics answer loopback only (set metrics.token to scrape)")
    return Response(exposition(health_status(ctx)), media_type=CONTENT_TYPE)
