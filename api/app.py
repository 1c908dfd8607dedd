"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import health
from appliance import __version__
from appliance.context import AppContext

__all__ = ["create_app"]


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(
        title="Clinic CCTV appliance",
        version=__version__,
        description="Staff web viewer and the request API for data subjects' representatives "
        "and agencies. Every route needs an authenticated principal with an explicit role, "
        "except those marked public.",
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    for router in (health.router,):
        app.include_router(router)
    return app
