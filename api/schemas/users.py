"""Bodies of the account routes (``api.routes.users``); ``UserOut`` is also what sign-in shows.

The ``*Out`` models read the domain's rows directly (``from_attributes``): a field renamed in a
model is an error here, not a silently missing value.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from appliance.access import Scope
from appliance.models import ApiToken, Role, User

__all__ = [
    "AnnexEntry",
    "DisableIn",
    "GrantChange",
    "GrantOut",
    "Grants",
    "NewPassword",
    "TokenIn",
    "TokenIssued",
    "TokenOut",
    "UserCreated",
    "UserIn",
    "UserOut",
    "UserPatch",
    "token_out",
    "user_out",
]

_USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"


class UserOut(BaseModel):
    """An account as the API shows it (never its hashes or secrets)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    department: str
    title: str
    phone: str
    email: str
    disabled: bool
    # Read from the account's TOTP secret, which is never shown: only whether there is one.
    totp_enabled: bool = Field(validation_alias=AliasChoices("totp_enabled", "totp_secret"))
    must_change_password: bool
    locked_until_ms: int = Field(description="0 when not locked.")
    created_ms: int
    updated_ms: int

    @field_validator("totp_enabled", mode="before")
    @classmethod
    def _has_secret(cls, value: object) -> bool:
        return value if isinstance(value, bool) else value is not None


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user)


class UserIn(BaseModel):
    username: str = Field(pattern=_USERNAME)
    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    department: str = Field(default="", max_length=200)
    title: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=50)
    email: str = Field(default="", max_length=200)
    password: str | None = Field(
        default=None,
        min_length=12,
        max_length=1024,
        description="Omit to generate one (shown once; changed at first sign-in).",
    )


class UserCreated(BaseModel):
    user: UserOut
    generated_password: str | None


class UserPatch(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    department: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=200)


class DisableIn(BaseModel):
    reason: str = Field(default="", max_length=500)


class NewPassword(BaseModel):
    password: str | None = Field(
        description="Shown once; must be changed at the next sign-in. None for an officer or "
        "admin: they set a new one at the appliance's console (appliance user reset-password)."
    )


class AnnexEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    department: str
    title: str
    name: str
    phone: str
    role: str
    cameras: list[str] = Field(description="Granted cameras; '*' for every camera.")


class GrantChange(BaseModel):
    add: list[str] = Field(default_factory=list, max_length=500)
    revoke: list[str] = Field(default_factory=list, max_length=500)


class GrantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    camera_id: str
    granted_ms: int
    granted_by: str
    revoked_ms: int | None
    revoked_by: str | None


class Grants(BaseModel):
    cameras: list[str] = Field(description="Cameras granted now.")
    history: list[GrantOut]


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1)
    ttl_days: int = Field(ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    prefix: str
    scopes: list[str]
    created_ms: int
    created_by: str
    expires_ms: int
    last_used_ms: int | None
    revoked_ms: int | None

    @field_validator("scopes", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        # The row keeps its scopes space-separated.
        return value.split() if isinstance(value, str) else value


def token_out(row: ApiToken) -> TokenOut:
    return TokenOut.model_validate(row)


class TokenIssued(BaseModel):
    token: str = Field(description="The bearer token; shown once, stored only as a digest.")
    info: TokenOut
