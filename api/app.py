"""The FastAPI application factory."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import install_error_handlers
from api.hsts import Hsts
from api.limits import BodyLimit, LoginLimit
from api.routes import (
    account_pages,
    agency,
    auth,
    cameras,
    desk_pages,
    health,
    health_page,
    ledger,
    ledger_pages,
    mask_pages,
    metrics,
    pages,
    policy_pages,
    requests,
    timeline,
    users,
    vault,
    viewing,
)
from api.security import check_routes, describe_security, public
from appliance import __version__
from appliance.access import AccessService
from appliance.context import AppContext
from appliance.viewing import ViewingService

__all__ = ["create_app"]


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(
        title="Clinic CCTV appliance",
        version=__version__,
        description="Staff web viewer and the request API for data subjects' representatives "
        "and agencies. Every route needs an authenticated principal with an explicit role, "
        "except those marked public.",
        # The schema is served by a route of ours (declared public below); no CDN-based docs UI.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.access = AccessService(ctx.db, ctx.clock, ctx.settings.server, ctx.ledger)
    app.state.viewing = ViewingService(
        ctx.db, ctx.clock, ctx.settings, ctx.ledger, ctx.vault, ctx.live, ctx.segment_files
    )
    install_error_handlers(app)
    for router in (
        health.router,
        auth.router,
        users.router,
        cameras.router,
        timeline.router,
        viewing.router,
        requests.router,
        agency.router,
        ledger.router,
        pages.router,
        ledger_pages.router,
        desk_pages.router,
        mask_pages.router,
        vault.router,
        account_pages.router,
        health_page.router,
        policy_pages.router,
        metrics.router,
    ):
        app.include_router(router)
    server = ctx.settings.server
    app.add_middleware(
        LoginLimit, rate_per_min=server.login_rate_per_min, concurrency=server.login_concurrency
    )
    # Outermost but for HSTS: an oversized body is refused before anything else runs.
    app.add_middleware(
        BodyLimit, max_bytes=server.max_body_bytes, upload_max_bytes=server.max_upload_bytes
    )
    if server.hsts_max_age_s:
        app.add_middleware(Hsts, max_age_s=server.hsts_max_age_s)
    _install_openapi(app)
    check_routes(app)  # deny by default: refuse to start with an undeclared route
    return app


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = describe_security(app, schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/api/openapi.json", include_in_schema=False, dependencies=[Depends(public)])
    def openapi_json() -> dict[str, Any]:
        return openapi()
