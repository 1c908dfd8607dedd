"""Agency API tokens: scoped, expiring, revocable; the token is shown once, stored as a digest.

The functions work inside a caller's transaction; ``TokenService`` runs the recorded changes
(an issued or revoked token is a grant change in the ledger).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from appliance.access._shared import AccessBase, need, user_row
from appliance.access.principal import Principal
from appliance.access.roles import Permission, Scope, permits
from appliance.access.secret_tokens import API_TOKEN_PREFIX, digest, new_secret_token
from appliance.clock import Clock
from appliance.errors import AuthenticationFailed, NotFound, ValidationFailed
from appliance.models import User
from appliance.models.access import ApiToken

__all__ = [
    "IssuedToken",
    "TokenService",
    "issue_token",
    "list_tokens",
    "parse_scopes",
    "resolve_token",
    "revoke",
    "revoke_all",
]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class IssuedToken:
    row: ApiToken
    token: str  # shown once


def parse_scopes(scopes: str | Iterable[str]) -> frozenset[Scope]:
    """Scopes from their names; an unknown name is refused."""
    names = scopes.split() if isinstance(scopes, str) else list(scopes)
    try:
        return frozenset(Scope(name) for name in names)
    except ValueError as exc:
        known = ", ".join(s.value for s in Scope)
        raise ValidationFailed(f"unknown scope in {names}; known: {known}") from exc


def issue_token(
    session: Session,
    clock: Clock,
    *,
    user: User,
    name: str,
    scopes: Iterable[Scope],
    ttl_days: int,
    max_days: int,
    issued_by: str,
) -> IssuedToken:
    """A new token for an agency account, valid ``ttl_days`` (at most ``max_days``)."""
    assert user.id is not None
    if not permits(user.role, Permission.agency_api):
        raise ValidationFailed("API tokens are only issued to agency accounts")
    if user.disabled:
        raise ValidationFailed("the account is disabled")
    if not 1 <= ttl_days <= max_days:
        raise ValidationFailed(f"ttl_days must be between 1 and {max_days}")
    wanted = frozenset(scopes)
    if not wanted:
        raise ValidationFailed("a token needs at least one scope")
    raw = new_secret_token(API_TOKEN_PREFIX)
    now = clock.now_ms()
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=digest(raw),
        prefix=raw[: len(API_TOKEN_PREFIX) + 6],
        scopes=" ".join(sorted(s.value for s in wanted)),
        created_ms=now,
        created_by=issued_by,
        expires_ms=now + ttl_days * _DAY_MS,
    )
    session.add(row)
    session.flush()
    return IssuedToken(row, raw)


def resolve_token(session: Session, clock: Clock, raw: str) -> tuple[ApiToken, User]:
    """The live token and its account, or AuthenticationFailed; records its last use."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == digest(raw))).first()
    now = clock.now_ms()
    if row is None:
        raise AuthenticationFailed("unknown API token")
    if row.revoked_ms is not None:
        raise AuthenticationFailed("API token revoked")
    if now >= row.expires_ms:
        raise AuthenticationFailed("API token expired")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise AuthenticationFailed("account disabled")
    row.last_used_ms = now
    session.add(row)
    return row, user


def list_tokens(session: Session, user_id: int | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(col(ApiToken.id))
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.exec(query).all())


def revoke(session: Session, clock: Clock, token_id: int, *, by: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no API token {token_id}")
    if row.revoked_ms is None:
        row.revoked_ms, row.revoked_by = clock.now_ms(), by
        session.add(row)
    return row


def revoke_all(session: Session, clock: Clock, user_id: int | None, by: str) -> None:
    """Revoke every live token of the account (disabled, or no longer an agency)."""
    for row in session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id, col(ApiToken.revoked_ms).is_(None))
    ).all():
        assert row.id is not None
        revoke(session, clock, row.id, by=by)


class TokenService(AccessBase):
    """Issuing, listing and revoking agency API tokens (permission ``manage_accounts``)."""

    def issue_token(
        self,
        principal: Principal,
        user_id: int,
        *,
        name: str,
        scopes: Iterable[Scope],
        ttl_days: int,
    ) -> IssuedToken:
        need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            user = user_row(session, user_id)
            issued = issue_token(
                session,
                self.clock,
                user=user,
                name=name,
                scopes=scopes,
                ttl_days=ttl_days,
                max_days=self.server.api_token_max_days,
                issued_by=principal.actor,
            )
            self._grant_changed(
                session,
                principal,
                user,
                [],
                granted=True,
                api_token={
                    "id": issued.row.id,
                    "name": name,
                    "scopes": issued.row.scopes.split(),
                    "expires_ms": issued.row.expires_ms,
                },
            )
            return issued

    def list_tokens(self, principal: Principal, user_id: int | None = None) -> list[ApiToken]:
        need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            return list_tokens(session, user_id)

    def revoke_token(
        self, principal: Principal, token_id: int, *, user_id: int | None = None
    ) -> ApiToken:
        need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            found = session.get(ApiToken, token_id)
            if found is None or (user_id is not None and found.user_id != user_id):
                raise NotFound(f"no API token {token_id}")
            row = revoke(session, self.clock, token_id, by=principal.actor)
            user = user_row(session, row.user_id)
            self._grant_changed(
                session,
                principal,
                user,
                [],
                granted=False,
                api_token={"id": row.id, "name": row.name},
            )
            return row
