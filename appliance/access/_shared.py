"""What the access services share: their constructor, the ledger entries for account and grant
changes, and small row look-ups. Private to ``appliance.access``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from appliance.access.audit import EventType, Ledger, record
from appliance.access.lockout import LockoutPolicy
from appliance.access.principal import Principal
from appliance.access.roles import Permission
from appliance.access.throttle import ClientFailures
from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import NotFound, PermissionDenied
from appliance.models import User
from appliance.settings import ServerConfig

__all__ = ["AccessBase", "need", "user_row"]


class AccessBase:
    """One database, clock, server configuration and ledger; each part of access builds on it."""

    def __init__(self, db: Database, clock: Clock, server: ServerConfig, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.server = server
        self.ledger = ledger
        self.lockout = LockoutPolicy(
            server.lockout_threshold, server.lockout_base_s, server.lockout_max_s
        )
        # Per client address, in this process's memory (see throttle.py).
        self.client_failures = ClientFailures(
            server.client_failure_threshold, server.lockout_decay_s
        )

    def _user_changed(
        self, session: Session, principal: Principal, user: User, changes: dict[str, Any]
    ) -> None:
        record(
            self.ledger,
            session,
            EventType.user_changed,
            actor=principal.actor,
            data={"username": user.username, "changes": changes},
            ref=f"user:{user.id}",
        )

    def _grant_changed(
        self,
        session: Session,
        principal: Principal,
        user: User,
        cameras: Sequence[str],
        *,
        granted: bool,
        api_token: dict[str, Any] | None = None,
    ) -> None:
        """Record a grant change: cameras granted or revoked, or an API token issued or
        revoked (then ``cameras`` is empty)."""
        data: dict[str, Any] = {
            "username": user.username,
            "cameras": list(cameras),
            "granted": granted,
            "role": user.role,
        }
        if api_token is not None:
            data["api_token"] = api_token
        record(
            self.ledger,
            session,
            EventType.grant_changed,
            actor=principal.actor,
            data=data,
            ref=f"user:{user.id}",
        )


def need(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise PermissionDenied(f"a {principal.role.value} may not {permission.value}")


def user_row(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user
