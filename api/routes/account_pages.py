"""The accounts pages (/accounts, /accounts/{id}), one's own two-step sign-in
(/account/security) and the vault unlock page (/vault).

Server-rendered from the domain (``AccessService`` reads, ``appliance.access.account_options``
for what is offered and why an option is off); every change is a call from the page's script to
the JSON API (``api.routes.users``, ``api.routes.auth``, ``api.routes.vault``), so the same
rules, CSRF check and ledger entries apply as for any API client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.deps import AccessDep, ContextDep, RowId
from api.web.pages import LangDep, page_guard, render
from appliance.access import Permission, Principal, Scope
from appliance.access.account_options import (
    account_options,
    creatable_roles,
    role_options,
)
from appliance.access.recovery import CODE_COUNT
from appliance.context import AppContext
from appliance.models import Role
from appliance.vault.web_unlock import channel_refusal

__all__ = ["router"]

router = APIRouter(tags=["pages"], include_in_schema=False)

# Whoever administers accounts, grants cameras or assigns the privileged roles.
_Accounts = Annotated[
    Principal,
    Depends(
        page_guard(
            Permission.manage_accounts,
            Permission.manage_grants,
            Permission.assign_privileged_roles,
        )
    ),
]
_Staff = Annotated[Principal, Depends(page_guard(Permission.staff_pages))]
_Unlocker = Annotated[Principal, Depends(page_guard(Permission.unlock_vault))]


def _local(ctx: AppContext, ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=ctx.settings.zone).strftime("%Y-%m-%d %H:%M")


# The role a new account most often has comes first in the form's default.
_CREATE_ORDER = (Role.viewer, Role.auditor, Role.agency, Role.officer, Role.admin)


@dataclass(frozen=True)
class _CameraChoice:
    id: str
    name: str
    location: str
    granted: bool


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(
    http_request: Request, principal: _Accounts, lang: LangDep, ctx: ContextDep, access: AccessDep
) -> HTMLResponse:
    """Every account with its state, and the form to create one."""
    users = access.list_users(principal)
    create_roles = creatable_roles(principal)
    return render(
        http_request,
        "accounts.html",
        lang,
        ctx,
        access,
        principal,
        users=users,
        roles=list(Role),
        create_roles=create_roles,
        default_role=next((r for r in _CREATE_ORDER if create_roles[r].allowed), None),
        now_ms=ctx.clock.now_ms(),
    )


@router.get("/accounts/{user_id}", response_class=HTMLResponse)
def account_page(
    user_id: RowId,
    http_request: Request,
    principal: _Accounts,
    lang: LangDep,
    ctx: ContextDep,
    access: AccessDep,
) -> HTMLResponse:
    """One account: profile, role, state, camera grants, agency tokens."""
    user = access.get_user(principal, user_id)
    options = account_options(principal, user_id, user.role, has_totp=user.totp_secret is not None)
    cameras: list[_CameraChoice] = []
    if options.grants.allowed:
        granted = {
            g.camera_id for g in access.grant_history(principal, user_id) if g.revoked_ms is None
        }
        cameras = [
            _CameraChoice(c.id, c.name, c.location, c.id in granted)
            for c, _viewable in access.cameras_for(principal)
        ]
    tokens = access.list_tokens(principal, user_id) if options.tokens.allowed else []
    return render(
        http_request,
        "account.html",
        lang,
        ctx,
        access,
        principal,
        user=user,
        options=options,
        roles=role_options(principal, user_id, user.role),
        cameras=cameras,
        tokens=[
            {
                "id": t.id,
                "name": t.name,
                "prefix": t.prefix,
                "scopes": t.scopes.split(),
                "expires": _local(ctx, t.expires_ms),
                "last_used": _local(ctx, t.last_used_ms),
                "revoked": _local(ctx, t.revoked_ms),
            }
            for t in tokens
        ],
        scopes=[s.value for s in Scope],
        token_max_days=ctx.settings.server.api_token_max_days,
        now_ms=ctx.clock.now_ms(),
        created=_local(ctx, user.created_ms),
    )


@router.get("/account/security", response_class=HTMLResponse)
def security_page(
    http_request: Request, principal: _Staff, lang: LangDep, ctx: ContextDep, access: AccessDep
) -> HTMLResponse:
    """One's own two-step sign-in: enrol with a QR code, recovery codes, switch off."""
    user = access.get_user(principal, principal.user_id)
    return render(
        http_request,
        "security.html",
        lang,
        ctx,
        access,
        principal,
        totp_on=user.totp_secret is not None,
        recovery_left=access.recovery_codes_left(principal),
        code_count=CODE_COUNT,
    )


@router.get("/vault", response_class=HTMLResponse)
def vault_page(
    http_request: Request, principal: _Unlocker, lang: LangDep, ctx: ContextDep, access: AccessDep
) -> HTMLResponse:
    """Unlock the vault with the passphrase after a power cut (HTTPS or loopback only)."""
    peer = http_request.client.host if http_request.client else ""
    return render(
        http_request,
        "vault.html",
        lang,
        ctx,
        access,
        principal,
        unlocked=ctx.vault.is_unlocked,
        passphrase_set=ctx.vault.has_passphrase,
        refusal=channel_refusal(http_request.url.scheme, peer),
    )
