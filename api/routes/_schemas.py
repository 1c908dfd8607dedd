"""Response and request bodies shared by the access routers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from appliance.models import Role, User

__all__ = ["UserOut", "user_out"]


class UserOut(BaseModel):
    """An account as the API shows it (never its hashes or secrets)."""

    id: int
    username: str
    display_name: str
    role: Role
    department: str
    title: str
    phone: str
    email: str
    disabled: bool
    totp_enabled: bool
    must_change_password: bool
    locked_until_ms: int = Field(description="0 when not locked.")
    created_ms: int
    updated_ms: int


def user_out(user: User) -> UserOut:
    assert user.id is not None
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        department=user.department,
        title=user.title,
        phone=user.phone,
        email=user.email,
        disabled=user.disabled,
        totp_enabled=user.totp_secret is not None,
        must_change_password=user.must_change_password,
        locked_until_ms=user.locked_until_ms,
        created_ms=user.created_ms,
        updated_ms=user.updated_ms,
    )
