"""Accounts, camera grants (R-SEC-2), agency API tokens and the access-rights annex (R-DOC-3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from api.deps import AccessDep
from api.routes._schemas import UserOut, user_out
from api.security import require
from appliance.access import Permission, Principal, Scope, UserChanges, roles_with
from appliance.models import ApiToken, Role

router = APIRouter(prefix="/api/users", tags=["users"])

_Admin = Annotated[Principal, Depends(require(*roles_with(Permission.manage_accounts)))]
# Creating accounts and changing roles: the officer assigns the officer and admin roles.
_AccountMaker = Annotated[
    Principal,
    Depends(
        require(
            *roles_with(Permission.manage_accounts),
            *roles_with(Permission.assign_privileged_roles),
        )
    ),
]
_Granter = Annotated[Principal, Depends(require(*roles_with(Permission.manage_grants)))]
_Reader = Annotated[Principal, Depends(require(*roles_with(Permission.read_annex)))]
UserId = Annotated[int, Path(ge=1, le=2**62)]

_USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"


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


class TokenIssued(BaseModel):
    token: str = Field(description="The bearer token; shown once, stored only as a digest.")
    info: TokenOut


@router.get("", response_model=list[UserOut])
def list_users(principal: _Reader, access: AccessDep) -> list[UserOut]:
    """Every account."""
    return [user_out(u) for u in access.list_users(principal)]


@router.post("", response_model=UserCreated, status_code=201)
def create_user(body: UserIn, principal: _AccountMaker, access: AccessDep) -> UserCreated:
    """Add an account (recorded in the ledger)."""
    user, generated = access.create_user(
        principal,
        username=body.username,
        role=body.role,
        display_name=body.display_name,
        password=body.password,
        department=body.department,
        title=body.title,
        phone=body.phone,
        email=body.email,
    )
    return UserCreated(user=user_out(user), generated_password=generated)


@router.get("/annex", response_model=list[AnnexEntry])
def annex(principal: _Reader, access: AccessDep) -> list[AnnexEntry]:
    """The access-rights annex: everyone with access, department, title, name, contact."""
    return [AnnexEntry(**row.__dict__) for row in access.annex(principal)]


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: UserId, principal: _Reader, access: AccessDep) -> UserOut:
    return user_out(access.get_user(principal, user_id))


@router.patch("/{user_id}", response_model=UserOut)
def update_user(
    user_id: UserId, body: UserPatch, principal: _AccountMaker, access: AccessDep
) -> UserOut:
    """Change profile fields or the role (recorded with old and new values)."""
    changes = UserChanges(**body.model_dump())
    return user_out(access.update_user(principal, user_id, changes))


@router.post("/{user_id}/disable", response_model=UserOut)
def disable_user(user_id: UserId, body: DisableIn, principal: _Admin, access: AccessDep) -> UserOut:
    """Disable an account: its sessions end and its tokens are revoked."""
    return user_out(access.set_disabled(principal, user_id, True, body.reason))


@router.post("/{user_id}/enable", response_model=UserOut)
def enable_user(user_id: UserId, principal: _Admin, access: AccessDep) -> UserOut:
    return user_out(access.set_disabled(principal, user_id, False))


@router.post("/{user_id}/reset-password", response_model=NewPassword)
def reset_password(user_id: UserId, principal: _Admin, access: AccessDep) -> NewPassword:
    """Generate a new password; the account's sessions end."""
    return NewPassword(password=access.reset_password(principal, user_id))


@router.post("/{user_id}/unlock", response_model=UserOut)
def unlock_user(user_id: UserId, principal: _Admin, access: AccessDep) -> UserOut:
    """Lift a lockout after failed sign-ins."""
    return user_out(access.unlock(principal, user_id))


@router.delete("/{user_id}/totp", status_code=204)
def remove_totp(user_id: UserId, principal: _Admin, access: AccessDep) -> None:
    """Remove someone's TOTP (lost phone)."""
    access.totp_disable(principal, user_id)


@router.get("/{user_id}/grants", response_model=Grants)
def get_grants(user_id: UserId, principal: _Granter, access: AccessDep) -> Grants:
    history = access.grant_history(principal, user_id)
    return Grants(
        cameras=sorted({g.camera_id for g in history if g.revoked_ms is None}),
        history=[GrantOut(**g.model_dump(include=set(GrantOut.model_fields))) for g in history],
    )


@router.post("/{user_id}/grants", response_model=Grants)
def change_grants(
    user_id: UserId, body: GrantChange, principal: _Granter, access: AccessDep
) -> Grants:
    """Grant and revoke cameras (recorded in the ledger)."""
    access.change_grants(principal, user_id, add=body.add, revoke=body.revoke)
    return get_grants(user_id, principal, access)


def _token_out(row: ApiToken) -> TokenOut:
    data = row.model_dump()
    data["scopes"] = data["scopes"].split()
    return TokenOut(**{k: data[k] for k in TokenOut.model_fields})


@router.get("/{user_id}/tokens", response_model=list[TokenOut])
def list_tokens(user_id: UserId, principal: _Admin, access: AccessDep) -> list[TokenOut]:
    access.get_user(principal, user_id)
    return [_token_out(t) for t in access.list_tokens(principal, user_id)]


@router.post("/{user_id}/tokens", response_model=TokenIssued, status_code=201)
def issue_token(
    user_id: UserId, body: TokenIn, principal: _Admin, access: AccessDep
) -> TokenIssued:
    """Issue a scoped, expiring API token to an agency account."""
    issued = access.issue_token(
        principal, user_id, name=body.name, scopes=body.scopes, ttl_days=body.ttl_days
    )
    return TokenIssued(token=issued.token, info=_token_out(issued.row))


@router.delete("/{user_id}/tokens/{token_id}", response_model=TokenOut)
def revoke_token(
    user_id: UserId,
    token_id: Annotated[int, Path(ge=1, le=2**62)],
    principal: _Admin,
    access: AccessDep,
) -> TokenOut:
    row = access.revoke_token(principal, token_id, user_id=user_id)
    return _token_out(row)
