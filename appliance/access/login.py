"""Sign-in: password (and TOTP) checks with lockout, browser sessions, logout and CSRF.

A refused sign-in is recorded with its real reason; the client is told only what
``refusals.LoginRefusal.user_may_know`` allows (nothing: one uniform refusal). Every attempt
pays one argon2id verification, whether the account exists, is disabled or locked, so timing
tells nothing either.

Failures are counted per account (in the database, fading by ``server.lockout_decay_s``) and per
client address (``throttle.ClientFailures``, in memory): a client past
``server.client_failure_threshold`` is refused before any account is looked at
(``LoginThrottled``, 429); an account locked by failures from *other* clients still admits the
right password with a right TOTP code from a client that has not failed as often.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlmodel import Session, select

from appliance.access import recovery, totp
from appliance.access import sessions as login_sessions
from appliance.access import tokens as api_tokens
from appliance.access._shared import AccessBase
from appliance.access.audit import EventType, record
from appliance.access.principal import Principal, Via
from appliance.access.refusals import LoginRefusal, Refusal
from appliance.access.roles import Permission, Scope, permits
from appliance.access.throttle import LoginThrottled, client_key, decayed_failures
from appliance.accounts import hash_password, verify_password
from appliance.errors import AuthenticationFailed, NotFound, PermissionDenied, ValidationFailed
from appliance.models import Role, User
from appliance.models.access import LoginSession

__all__ = ["LoginResult", "LoginService"]

_MAX_USERNAME = 100


@functools.cache
def _dummy_hash() -> str:
    # Unknown usernames still pay one argon2id verification, so timing does not tell them apart.
    return hash_password("not-a-real-password-" + "x" * 16)


@dataclass(frozen=True)
class _Passed:
    """A sign-in that may proceed; ``recovery_left`` is set when a recovery code stood in for
    the TOTP code (how many the account has left), so the ledger entry says so."""

    recovery_left: int | None = None


@dataclass(frozen=True)
class LoginResult:
    principal: Principal
    session_token: str  # the cookie value
    csrf_token: str  # sent back in X-CSRF-Token on every state-changing request
    expires_ms: int  # absolute end of the session


class LoginService(AccessBase):
    """Sign in and out, and who is behind a request (session cookie or API token)."""

    def login(
        self,
        username: str,
        password: str,
        *,
        totp_code: str | None = None,
        remote_addr: str = "",
        user_agent: str = "",
    ) -> LoginResult:
        """Check credentials (and TOTP) and start a session; every outcome is in the ledger."""
        username = username[:_MAX_USERNAME]
        now = self.clock.now_ms()
        client = client_key(remote_addr)
        # A client that keeps failing is refused before any account is looked at (no argon2,
        # no ledger write: its failures up to here are in the ledger already).
        wait_s = self.client_failures.retry_after_s(client, now)
        if wait_s:
            raise LoginThrottled(wait_s)
        result: LoginResult | None = None
        with self.db.session() as session:
            user = session.exec(select(User).where(User.username == username)).first()
            checked = self._check_login(session, user, password, totp_code, now, client)
            refusal = checked if isinstance(checked, Refusal) else None
            if refusal is not None:
                failures = self.client_failures.add_failure(client, now)
                record(
                    self.ledger,
                    session,
                    EventType.login_failure,
                    actor=username or "(empty)",
                    data={
                        "username": username,
                        "remote": remote_addr,
                        "reason": refusal.message,
                        "client_failures": failures,
                    },
                )
            else:
                assert user is not None and isinstance(checked, _Passed)
                user.failed_logins, user.locked_until_ms = 0, 0
                session.add(user)
                issued = login_sessions.start_session(
                    session,
                    self.clock,
                    user,
                    mfa=user.totp_secret is not None,
                    remote_addr=remote_addr,
                    user_agent=user_agent,
                )
                data: dict[str, object] = {
                    "username": username,
                    "remote": remote_addr,
                    "mfa": issued.row.mfa,
                }
                if checked.recovery_left is not None:
                    data |= {"recovery_code": True, "recovery_codes_left": checked.recovery_left}
                record(
                    self.ledger,
                    session,
                    EventType.login_success,
                    actor=username or "(empty)",
                    data=data,
                    ref=f"login:{issued.row.id}",
                )
                result = LoginResult(
                    principal=_principal(user, Via.session, session_id=issued.row.id),
                    session_token=issued.token,
                    csrf_token=issued.csrf_token,
                    expires_ms=issued.row.created_ms + self.server.session_absolute_s * 1000,
                )
        # Raised after the commit, so the failure count and its ledger entry are kept.
        if refusal is not None:
            raise AuthenticationFailed(refusal.shown)
        assert result is not None
        return result

    def _check_login(
        self,
        session: Session,
        user: User | None,
        password: str,
        totp_code: str | None,
        now: int,
        client: str,
    ) -> Refusal | _Passed:
        """Why the login may not proceed (recorded, never shown), or that it may."""
        usable = user is not None and not user.disabled
        # Always one argon2id verification: the same cost for every username and state.
        password_ok = verify_password(
            user.password_hash if user is not None and usable else _dummy_hash(), password
        )
        if user is None:
            return Refusal(LoginRefusal.unknown_user)
        if user.disabled:
            return Refusal(LoginRefusal.account_disabled)
        if user.locked_until_ms > now and not self._may_pass_lock(user, client, now):
            if not password_ok:
                self._count_failure(session, user, now)
            seconds = (user.locked_until_ms - now + 999) // 1000
            return Refusal(LoginRefusal.account_locked, locked_s=seconds)
        if not password_ok:
            self._count_failure(session, user, now)
            return Refusal(LoginRefusal.wrong_password)
        if permits(user.role, Permission.agency_api):
            # An agency acts through its scoped API token; a browser session would not be scoped.
            return Refusal(LoginRefusal.agency_account)
        if user.totp_secret is None:
            return _Passed()
        if not totp_code:
            return Refusal(LoginRefusal.totp_required)
        assert user.id is not None
        # Locked: a racing sign-in with the same code waits here, then finds it used.
        enrolment = totp.locked_enrolment(session, user)
        if user.totp_secret is None:  # removed meanwhile (the row was refreshed)
            return _Passed()
        # A recovery code stands in for the TOTP code (a lost phone), once each.
        if recovery.spend(session, user.id, totp_code, now):
            return _Passed(recovery_left=recovery.remaining(session, user.id))
        step = totp.verify(user.totp_secret, totp_code, now, enrolment.last_step)
        if step is None:
            self._count_failure(session, user, now)
            return Refusal(LoginRefusal.wrong_totp)
        enrolment.last_step = step
        session.add(enrolment)
        return _Passed()

    def _may_pass_lock(self, user: User, client: str, now: int) -> bool:
        """Whether this client may still try a locked account: only with a second factor (so
        the right password alone never passes) and only if the failures came mostly from
        elsewhere (this client failed fewer times than the lockout threshold)."""
        return (
            user.totp_secret is not None
            and self.client_failures.failures(client, now) < self.server.lockout_threshold
        )

    def _count_failure(self, session: Session, user: User, now: int) -> None:
        # The stored count fades: one failure forgiven per lockout_decay_s since the last one
        # (updated_ms is the time of the last change, here the last failure).
        left = decayed_failures(
            user.failed_logins, user.updated_ms, now, self.server.lockout_decay_s
        )
        user.failed_logins = left + 1
        user.locked_until_ms = max(
            user.locked_until_ms, self.lockout.lock_until_ms(user.failed_logins, now)
        )
        user.updated_ms = now
        session.add(user)

    def authenticate(
        self,
        *,
        cookie: str | None,
        bearer: str | None,
        csrf_header: str | None,
        state_changing: bool,
    ) -> Principal:
        """The principal behind a request's bearer token or session cookie.

        A cookie is an ambient credential, so a state-changing request must also carry the
        session's CSRF token; a bearer token is sent on purpose and needs none.
        """
        error: AuthenticationFailed | None = None
        principal: Principal | None = None
        with self.db.session() as session:
            try:
                if bearer:
                    token, user = api_tokens.resolve_token(session, self.clock, bearer)
                    if not permits(user.role, Permission.agency_api):
                        raise AuthenticationFailed("API tokens belong to agency accounts only")
                    principal = _principal(
                        user,
                        Via.token,
                        token_id=token.id,
                        scopes=api_tokens.parse_scopes(token.scopes),
                    )
                elif cookie:
                    row, user = login_sessions.resolve_session(
                        session,
                        self.clock,
                        cookie,
                        idle_s=self.server.session_idle_s,
                        absolute_s=self.server.session_absolute_s,
                    )
                    if state_changing and not login_sessions.check_csrf(row, csrf_header):
                        raise PermissionDenied("CSRF token missing or wrong (X-CSRF-Token)")
                    principal = _principal(user, Via.session, session_id=row.id)
                else:
                    raise AuthenticationFailed("not signed in")
            except AuthenticationFailed as exc:
                error = exc  # commit what was learnt (an expired session is marked ended)
        if error is not None:
            raise error
        assert principal is not None
        return principal

    def logout(self, principal: Principal) -> None:
        if principal.session_id is None:
            raise ValidationFailed("only a browser session can log out")
        with self.db.session() as session:
            row = session.get(LoginSession, principal.session_id)
            if row is None:
                raise NotFound("no such session")
            login_sessions.end_session(session, self.clock, row, "logout")
            record(
                self.ledger,
                session,
                EventType.logout,
                actor=principal.actor,
                data={"username": principal.username},
                ref=f"login:{row.id}",
            )

    def csrf_token_for(self, principal: Principal) -> str | None:
        """The CSRF token of the principal's browser session (None for a token or the CLI)."""
        if principal.session_id is None:
            return None
        with self.db.session() as session:
            row = session.get(LoginSession, principal.session_id)
            return row.csrf_token if row is not None else None


def _principal(
    user: User,
    via: Via,
    *,
    session_id: int | None = None,
    token_id: int | None = None,
    scopes: frozenset[Scope] | None = None,
) -> Principal:
    assert user.id is not None
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        via=via,
        session_id=session_id,
        token_id=token_id,
        scopes=scopes,
        must_change_password=user.must_change_password,
    )
