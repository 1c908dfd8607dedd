"""Who is making a request: the result of authentication, passed to every guarded operation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from appliance.access.roles import Permission, Scope, permits
from appliance.models import Role

__all__ = ["Principal", "Via"]


class Via(StrEnum):
    """How the principal authenticated."""

    session = "session"  # browser cookie: an ambient credential, so CSRF-checked
    token = "token"  # noqa: S105  agency bearer token: sent on purpose, so not CSRF-prone
    local = "local"  # the CLI on the appliance itself (root on the box)


@dataclass(frozen=True)
class Principal:
    """An authenticated account acting through a session, a token, or the local CLI."""

    user_id: int
    username: str
    role: Role
    via: Via
    session_id: int | None = None
    token_id: int | None = None
    scopes: frozenset[Scope] | None = None  # None: not limited (cookie session, CLI)
    must_change_password: bool = False

    @classmethod
    def local(cls, name: str) -> Principal:
        """The operator at the appliance's own CLI (acts as an administrator)."""
        return cls(user_id=0, username=name, role=Role.admin, via=Via.local)

    @property
    def actor(self) -> str:
        """How the ledger names this principal."""
        return f"cli:{self.username}" if self.via is Via.local else self.username

    def can(self, permission: Permission) -> bool:
        return permits(self.role, permission)

    def has_scope(self, scope: Scope) -> bool:
        return self.scopes is None or scope in self.scopes
