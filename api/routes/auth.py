"""Sign in and out, one's own password and TOTP second factor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from api.deps import AccessDep, ContextDep
from api.routes._schemas import UserOut, user_out
from api.security import COOKIE_NAME, public, require
from appliance.access import ALL_ROLES, Permission, Principal, Via
from appliance.access.throttle import LoginThrottled
from appliance.errors import ValidationFailed

router = APIRouter(prefix="/api/auth", tags=["auth"])

# Every role may manage its own session; a pending password change does not block these.
_Self = Annotated[Principal, Depends(require(*ALL_ROLES, allow_password_change=True))]
_SelfReady = Annotated[Principal, Depends(require(*ALL_ROLES))]


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(
        default=None, max_length=12, description="Six digits, if TOTP is on."
    )


class Me(BaseModel):
    user: UserOut
    via: Via
    cameras: list[str] = Field(description="Cameras granted ('*': every camera).")
    csrf_token: str | None = Field(
        description="Send in X-CSRF-Token on state-changing requests (browser sessions only)."
    )
    expires_ms: int | None = None


class PasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=12, max_length=1024)


class TotpSetup(BaseModel):
    secret: str = Field(description="Base32 secret for the authenticator app (shown once).")
    otpauth_uri: str


class TotpCode(BaseModel):
    code: str = Field(min_length=6, max_length=12)


def _secure(ctx: ContextDep) -> bool:
    server = ctx.settings.server
    return server.cookie_secure if server.cookie_secure is not None else server.tls_cert is not None


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
    body: LoginIn, request: Request, response: Response, access: AccessDep, ctx: ContextDep
) -> Me:
    """Sign in with a password (and TOTP code); sets the HttpOnly session cookie."""
    try:
        result = access.login(
            body.username,
            body.password,
            totp_code=body.totp_code,
            remote_addr=request.client.host if request.client else "",
            user_agent=request.headers.get("user-agent", ""),
        )
    except LoginThrottled as exc:  # about the client, not an account: 429 with when to retry
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from exc
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
    return TotpSetup(secret=secret, otpauth_uri=uri)


@router.post("/totp/confirm", status_code=204)
def totp_confirm(body: TotpCode, principal: _SelfReady, access: AccessDep) -> None:
    """Switch TOTP on with a current code from the app."""
    access.totp_confirm(principal, body.code)


@router.post("/totp/disable", status_code=204)
def totp_disable(body: TotpCode, principal: _SelfReady, access: AccessDep) -> None:
    """Switch one's own TOTP off with a current code."""
    access.totp_disable(principal, principal.user_id, body.code)
