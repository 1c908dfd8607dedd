"""Bodies of the sign-in routes (``api.routes.auth``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.users import UserOut
from appliance.access import Via

__all__ = ["LoginIn", "Me", "PasswordIn", "RecoveryCodes", "TotpCode", "TotpSetup"]


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(
        default=None,
        max_length=32,
        description="Six digits, if TOTP is on; or one of the account's recovery codes.",
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
    qr_png: str = Field(description="The URI as a QR code, a data:image/png URI drawn here.")


class TotpCode(BaseModel):
    code: str = Field(
        min_length=6, max_length=32, description="A current TOTP code, or a recovery code."
    )


class RecoveryCodes(BaseModel):
    codes: list[str] = Field(
        description="One-time codes that stand in for a TOTP code; shown once, keep on paper."
    )
