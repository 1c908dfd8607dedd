"""Server-side login sessions: the cookie names a row; idle and absolute timeouts end it.

The cookie value is random and stored only as a digest; the CSRF synchronizer token is kept
with the row (it is useless without the cookie).
Expiry is decided by a pure function over the row and the injected clock's time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlmodel import Session, col, select

from appliance.access.secret_tokens import digest, new_secret_token
from appliance.clock import Clock
from appliance.errors import AuthenticationFailed
from appliance.models import User
from appliance.models.access import LoginSession

__all__ = [
    "IssuedSession",
    "check_csrf",
    "end_session",
    "end_user_sessions",
    "expiry_reason",
    "resolve_session",
    "start_session",
]


@dataclass(frozen=True)
class IssuedSession:
    """A new session; ``token`` goes into the cookie, ``csrf_token`` to the page. Shown once."""

    row: LoginSession
    token: str
    csrf_token: str


def expiry_reason(row: LoginSession, now_ms: int, idle_s: int, absolute_s: int) -> str | None:
    """Why the session is over at ``now_ms`` ("logout", "idle", "absolute", ...), or None."""
    if row.ended_ms is not None:
        return row.end_reason or "ended"
    if now_ms >= row.created_ms + absolute_s * 1000:
        return "absolute"
    if now_ms >= row.last_seen_ms + idle_s * 1000:
        return "idle"
    return None


def start_session(
    session: Session,
    clock: Clock,
    user: User,
    *,
    mfa: bool,
    remote_addr: str = "",
    user_agent: str = "",
) -> IssuedSession:
    assert user.id is not None
    token, csrf = new_secret_token(), new_secret_token()
    now = clock.now_ms()
    row = LoginSession(
        user_id=user.id,
        token_hash=digest(token),
        csrf_token=csrf,
        mfa=mfa,
        remote_addr=remote_addr[:64],
        user_agent=user_agent[:300],
        created_ms=now,
        last_seen_ms=now,
    )
    session.add(row)
    session.flush()
    return IssuedSession(row, token, csrf)


def resolve_session(
    session: Session, clock: Clock, token: str, *, idle_s: int, absolute_s: int
) -> tuple[LoginSession, User]:
    """The live session behind a cookie value and its account; touches its idle timer.

    An expired session is ended here (with its reason) and refused.
    """
    row = session.exec(select(LoginSession).where(LoginSession.token_hash == digest(token))).first()
    if row is None:
        raise AuthenticationFailed("not signed in")
    now = clock.now_ms()
    reason = expiry_reason(row, now, idle_s, absolute_s)
    if reason is not None:
        if row.ended_ms is None:
            row.ended_ms, row.end_reason = now, reason
            session.add(row)
        raise AuthenticationFailed(f"session ended ({reason}); sign in again")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        row.ended_ms, row.end_reason = now, "disabled"
        session.add(row)
        raise AuthenticationFailed("account disabled")
    row.last_seen_ms = now
    session.add(row)
    return row, user


def check_csrf(row: LoginSession, header_value: str | None) -> bool:
    """Whether the request carries this session's synchronizer token."""
    if not header_value:
        return False
    return hmac.compare_digest(header_value.encode(), row.csrf_token.encode())


def end_session(session: Session, clock: Clock, row: LoginSession, reason: str) -> None:
    if row.ended_ms is None:
        row.ended_ms, row.end_reason = clock.now_ms(), reason
        session.add(row)


def end_user_sessions(session: Session, clock: Clock, user_id: int, reason: str) -> int:
    """End every open session of an account (disabled, password reset); returns how many."""
    rows = session.exec(
        select(LoginSession).where(
            LoginSession.user_id == user_id, col(LoginSession.ended_ms).is_(None)
        )
    ).all()
    for row in rows:
        end_session(session, clock, row, reason)
    return len(rows)
