"""Sign in and out, one's own password and TOTP second factor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.deps import COOKIE_NAME, AccessDep, ContextDep, public, require
from api.schemas.auth import LoginIn, Me, PasswordIn, RecoveryCodes, TotpCode, TotpSetup
from api.schemas.users import user_out
from api.web.qr import qr_png_data_uri
from appliance.access import Permission, Principal, Via
from appliance.errors import ValidationFailed

__all__ = ["router"]

router = APIRouter(prefix="/api/auth", tags=["auth"])

# Every role may manage its own session; a pending password change does not block these.
_Self = Annotated[Principal, Depends(require(Permission.own_account, allow_password_change=True))]
_SelfReady = Annotated[Principal, Depends(require(Permission.own_account))]


def _secure(ctx: ContextDep) -> bool:
    return ctx.settings.server.secure_cookie


def _me(access: AccessDep, principal: Principal, expires_ms: int | None = None) -> Me:
    user = access.get_user(principal, principal.user_id)
    cameras = (
        ["*"]
        if principal.can(Permission.view_any_camera)
        else access.granted_cameras(principal.user_id)
        if principal.can(Permission.view_footage)
        else []
    )
    return Me(
        user=user_out(user),
        via=principal.via,
        cameras=cameras,
        csrf_token=access.csrf_token_for(principal),
        expires_ms=expires_ms,
    )


@router.post("/login", response_model=Me, dependencies=[Depends(public)])
def login(
    body: LoginIn, http_request: Request, response: Response, access: AccessDep, ctx: ContextDep
) -> Me:
    """Sign in with a password (and TOTP code); sets the HttpOnly session cookie."""
    # A throttled client gets RateLimited: 429 with Retry-After (api.errors), about the
    # client, never about an account.
    result = access.login(
        body.username,
        body.password,
        totp_code=body.totp_code,
        remote_addr=http_request.client.host if http_request.client else "",
        user_agent=http_request.headers.get("user-agent", ""),
    )
    response.set_cookie(
        COOKIE_NAME,
        result.session_token,
        max_age=ctx.settings.server.session_absolute_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(ctx),
    )
    return _me(access, result.principal, result.expires_ms)


@router.post("/logout", status_code=204)
def logout(principal: _Self, access: AccessDep, response: Response, ctx: ContextDep) -> None:
    """End this browser session."""
    access.logout(principal)
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(ctx)
    )


@router.get("/me", response_model=Me)
def me(principal: _Self, access: AccessDep) -> Me:
    """Who is signed in, their cameras, and the CSRF token for this session."""
    return _me(access, principal)


@router.post("/password", status_code=204)
def change_password(body: PasswordIn, principal: _Self, access: AccessDep) -> None:
    """Change one's own password (required first when it was generated or reset)."""
    access.change_password(principal, body.current_password, body.new_password)


@router.post("/totp/setup", response_model=TotpSetup)
def totp_setup(principal: _SelfReady, access: AccessDep) -> TotpSetup:
    """Start TOTP enrolment; confirm with a code to switch it on."""
    if principal.via is not Via.session:
        raise ValidationFailed("TOTP is for browser sign-in")
    secret, uri = access.totp_begin(principal)
    return TotpSetup(secret=secret, otpauth_uri=uri, qr_png=qr_png_data_uri(uri))


@router.post("/totp/confirm", response_model=RecoveryCodes)
def totp_confirm(body: TotpCode, principal: _SelfReady, access: AccessDep) -> RecoveryCodes:
    """Switch TOTP on with a current code from the app; returns the recovery codes (once)."""
    return RecoveryCodes(codes=access.totp_confirm(principal, body.code))


@router.post("/totp/recovery-codes", response_model=RecoveryCodes)
def new_recovery_codes(body: TotpCode, principal: _SelfReady, access: AccessDep) -> RecoveryCodes:
    """A new set of recovery codes (the old set stops working), with a current code."""
    return RecoveryCodes(codes=access.new_recovery_codes(principal, body.code))


@router.post("/totp/disable", status_code=204)
def totp_disable(body: TotpCode, principal: _SelfReady, access: AccessDep) -> None:
    """Switch one's own TOTP off with a current code (or a recovery code)."""
    access.totp_disable(principal, principal.user_id, body.code)
