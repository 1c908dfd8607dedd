"""The vault after a power cut: its state, and unlocking it with the passphrase from a page.

Only over HTTPS or from loopback, at most a few attempts per window, every attempt in the
ledger: the rules are ``appliance.vault.web_unlock``; this router hands it the connection's
scheme and peer (uvicorn has already applied a loopback proxy's ``X-Forwarded-*``).
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.deps import ContextDep, require
from api.schemas.vault import UnlockIn, VaultStatus
from appliance.access import Permission, Principal
from appliance.context import AppContext
from appliance.vault.web_unlock import WebUnlock, channel_refusal

__all__ = ["connection_of", "router", "vault_status"]

router = APIRouter(prefix="/api/vault", tags=["vault"])

_Unlocker = Annotated[Principal, Depends(require(Permission.unlock_vault))]
_gate_lock = threading.Lock()


def connection_of(http_request: Request) -> tuple[str, str]:
    """The connection's scheme and peer address."""
    peer = http_request.client.host if http_request.client else ""
    return http_request.url.scheme, peer


def vault_status(ctx: AppContext, http_request: Request) -> VaultStatus:
    return VaultStatus(
        unlocked=ctx.vault.is_unlocked,
        passphrase_set=ctx.vault.has_passphrase,
        channel_refusal=channel_refusal(*connection_of(http_request)),
    )


def _gate(http_request: Request, ctx: ContextDep) -> WebUnlock:
    # One gate per app (so per box): its attempt counter must not be per request.
    state = http_request.app.state
    with _gate_lock:
        gate: WebUnlock | None = getattr(state, "web_unlock", None)
        if gate is None:
            gate = state.web_unlock = WebUnlock(ctx.vault_keeper, ctx.clock)
        return gate


@router.get("", response_model=VaultStatus)
def get_status(http_request: Request, principal: _Unlocker, ctx: ContextDep) -> VaultStatus:
    """Whether the vault is unlocked, and whether this connection may unlock it."""
    return vault_status(ctx, http_request)


@router.post("/unlock", response_model=VaultStatus)
def unlock(
    body: UnlockIn,
    http_request: Request,
    principal: _Unlocker,
    ctx: ContextDep,
    gate: Annotated[WebUnlock, Depends(_gate)],
) -> VaultStatus:
    """Unlock with the passphrase (HTTPS or loopback only; rate-limited; ledgered)."""
    scheme, peer = connection_of(http_request)
    gate.unlock(body.passphrase, actor=principal.actor, scheme=scheme, peer=peer)
    return vault_status(ctx, http_request)
