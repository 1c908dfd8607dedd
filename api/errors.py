"""Map domain errors to HTTP responses: every refusal is a 4xx with a reason, never a 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from appliance import errors

__all__ = ["STATUS_BY_ERROR", "install_error_handlers"]

STATUS_BY_ERROR: dict[type[errors.ApplianceError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PermissionDenied: 403,
    errors.AuthenticationFailed: 401,
    errors.ValidationFailed: 422,
    errors.RateLimited: 429,
    errors.ConfigError: 422,
    errors.VaultLocked: 423,
    errors.LedgerUnavailable: 503,
    errors.LedgerTampered: 409,
    errors.FootageCorrupt: 409,
    errors.MediaError: 422,
}


def status_for(exc: errors.ApplianceError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def install_error_handlers(app: FastAPI) -> None:
    async def handle(_http_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.ApplianceError)
        retry = getattr(exc, "retry_after_s", None)
        return JSONResponse(
            status_code=status_for(exc),
            content={"detail": str(exc), "error": type(exc).__name__},
            headers={"Retry-After": str(retry)} if retry is not None else None,
        )

    app.add_exception_handler(errors.ApplianceError, handle)
