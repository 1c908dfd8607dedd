"""Accounts, camera grants (R-SEC-2), agency API tokens and the access-rights annex (R-DOC-3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import AccessDep, RowId, require
from api.schemas.users import (
    AnnexEntry,
    DisableIn,
    GrantChange,
    GrantOut,
    Grants,
    NewPassword,
    TokenIn,
    TokenIssued,
    TokenOut,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
    token_out,
    user_out,
)
from appliance.access import Permission, Principal, UserChanges

__all__ = ["router"]

router = APIRouter(prefix="/api/users", tags=["users"])

_Admin = Annotated[Principal, Depends(require(Permission.manage_accounts))]
# Creating accounts and changing roles: the officer assigns the officer and admin roles.
_AccountMaker = Annotated[
    Principal, Depends(require(Permission.manage_accounts, Permission.assign_privileged_roles))
]
_Granter = Annotated[Principal, Depends(require(Permission.manage_grants))]
_Reader = Annotated[Principal, Depends(require(Permission.read_annex))]


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
    return [AnnexEntry.model_validate(row) for row in access.annex(principal)]


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: RowId, principal: _Reader, access: AccessDep) -> UserOut:
    return user_out(access.get_user(principal, user_id))


@router.patch("/{user_id}", response_model=UserOut)
def update_user(
    user_id: RowId, body: UserPatch, principal: _AccountMaker, access: AccessDep
) -> UserOut:
    """Change profile fields or the role (recorded with old and new values)."""
    changes = UserChanges(**body.model_dump())
    return user_out(access.update_user(principal, user_id, changes))


@router.post("/{user_id}/disable", response_model=UserOut)
def disable_user(user_id: RowId, body: DisableIn, principal: _Admin, access: AccessDep) -> UserOut:
    """Disable an account: its sessions end and its tokens are revoked."""
    return user_out(access.set_disabled(principal, user_id, True, body.reason))


@router.post("/{user_id}/enable", response_model=UserOut)
def enable_user(user_id: RowId, principal: _Admin, access: AccessDep) -> UserOut:
    return user_out(access.set_disabled(principal, user_id, False))


@router.post("/{user_id}/reset-password", response_model=NewPassword)
def reset_password(user_id: RowId, principal: _Admin, access: AccessDep) -> NewPassword:
    """Generate a new password; the account's sessions end."""
    return NewPassword(password=access.reset_password(principal, user_id))


@router.post("/{user_id}/unlock", response_model=UserOut)
def unlock_user(user_id: RowId, principal: _Admin, access: AccessDep) -> UserOut:
    """Lift a lockout after failed sign-ins."""
    return user_out(access.unlock(principal, user_id))


@router.delete("/{user_id}/totp", status_code=204)
def remove_totp(user_id: RowId, principal: _Admin, access: AccessDep) -> None:
    """Remove someone's TOTP (lost phone)."""
    access.totp_disable(principal, user_id)


@router.get("/{user_id}/grants", response_model=Grants)
def get_grants(user_id: RowId, principal: _Granter, access: AccessDep) -> Grants:
    history = access.grant_history(principal, user_id)
    return Grants(
        cameras=sorted({g.camera_id for g in history if g.revoked_ms is None}),
        history=[GrantOut.model_validate(g) for g in history],
    )


@router.post("/{user_id}/grants", response_model=Grants)
def change_grants(
    user_id: RowId, body: GrantChange, principal: _Granter, access: AccessDep
) -> Grants:
    """Grant and revoke cameras (recorded in the ledger)."""
    access.change_grants(principal, user_id, add=body.add, revoke=body.revoke)
    return get_grants(user_id, principal, access)


@router.get("/{user_id}/tokens", response_model=list[TokenOut])
def list_tokens(user_id: RowId, principal: _Admin, access: AccessDep) -> list[TokenOut]:
    access.get_user(principal, user_id)
    return [token_out(t) for t in access.list_tokens(principal, user_id)]


@router.post("/{user_id}/tokens", response_model=TokenIssued, status_code=201)
def issue_token(user_id: RowId, body: TokenIn, principal: _Admin, access: AccessDep) -> TokenIssued:
    """Issue a scoped, expiring API token to an agency account."""
    issued = access.issue_token(
        principal, user_id, name=body.name, scopes=body.scopes, ttl_days=body.ttl_days
    )
    return TokenIssued(token=issued.token, info=token_out(issued.row))


@router.delete("/{user_id}/tokens/{token_id}", response_model=TokenOut)
def revoke_token(
    user_id: RowId,
    token_id: RowId,
    principal: _Admin,
    access: AccessDep,
) -> TokenOut:
    row = access.revoke_token(principal, token_id, user_id=user_id)
    return token_out(row)
