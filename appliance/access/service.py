"""Accounts, logins, grants and tokens: the transactions, each with its ledger entry.

Every method runs one transaction of its own; a change and its ledger entry commit together
(a ledger that cannot be written refuses the change). Methods that act for someone take the
acting ``Principal`` and check its permission here too, so no caller can widen a rule.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from appliance.access import grants as grant_rows
from appliance.access import sessions as login_sessions
from appliance.access import tokens as api_tokens
from appliance.access import totp
from appliance.access.audit import EventType, Ledger, record
from appliance.access.lockout import LockoutPolicy
from appliance.access.principal import Principal, Via
from appliance.access.refusals import LoginRefusal, Refusal
from appliance.access.roles import Permission, Scope, may_see_camera, may_view_camera, permits
from appliance.accounts import (
    MIN_PASSWORD_LENGTH,
    create_user,
    generate_password,
    hash_password,
    verify_password,
)
from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from appliance.models import Camera, Role, User
from appliance.models.access import ApiToken, CameraGrant, LoginSession, TotpEnrolment
from appliance.settings import ServerConfig

__all__ = ["AccessService", "AnnexRow", "LoginResult", "UserChanges"]

_MAX_USERNAME = 100
_PROFILE_FIELDS = ("display_name", "role", "department", "title", "phone", "email")


@functools.cache
def _dummy_hash() -> str:
    # Unknown usernames still pay one argon2id verification, so timing does not tell them apart.
    return hash_password("not-a-real-password-" + "x" * 16)


@dataclass(frozen=True)
class LoginResult:
    principal: Principal
    session_token: str  # the cookie value
    csrf_token: str  # sent back in X-CSRF-Token on every state-changing request
    expires_ms: int  # absolute end of the session


@dataclass(frozen=True)
class UserChanges:
    """Profile fields to change; None leaves a field as it is."""

    display_name: str | None = None
    role: Role | None = None
    department: str | None = None
    title: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class AnnexRow:
    """One line of the access-rights annex (R-DOC-3, annex 1 of the policy)."""

    department: str
    title: str
    name: str
    phone: str
    role: str
    cameras: list[str]


class AccessService:
    """Authentication and account administration over one database, clock and ledger."""

    def __init__(self, db: Database, clock: Clock, server: ServerConfig, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.server = server
        self.ledger = ledger
        self.lockout = LockoutPolicy(
            server.lockout_threshold, server.lockout_base_s, server.lockout_max_s
        )

    # -- authentication -------------------------------------------------------------------

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
        result: LoginResult | None = None
        with self.db.session() as session:
            user = session.exec(select(User).where(User.username == username)).first()
            refusal = self._check_login(session, user, password, totp_code, now)
            if refusal is not None:
                record(
                    self.ledger,
                    session,
                    EventType.login_failure,
                    actor=username or "(empty)",
                    data={"username": username, "remote": remote_addr, "reason": refusal.message},
                )
            else:
                assert user is not None  # _check_login refuses when there is no user
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
                record(
                    self.ledger,
                    session,
                    EventType.login_success,
                    actor=username or "(empty)",
                    data={"username": username, "remote": remote_addr, "mfa": issued.row.mfa},
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
    ) -> Refusal | None:
        """None if the login may proceed, else why not (recorded; shown only if harmless)."""
        if user is None:
            verify_password(_dummy_hash(), password)
            return Refusal(LoginRefusal.unknown_user)
        if user.disabled:
            verify_password(_dummy_hash(), password)
            return Refusal(LoginRefusal.account_disabled)
        if user.locked_until_ms > now:
            seconds = (user.locked_until_ms - now + 999) // 1000
            return Refusal(LoginRefusal.account_locked, locked_s=seconds)
        if not verify_password(user.password_hash, password):
            self._count_failure(session, user, now)
            return Refusal(LoginRefusal.wrong_password)
        if permits(user.role, Permission.agency_api):
            # An agency acts through its scoped API token; a browser session would not be scoped.
            return Refusal(LoginRefusal.agency_account)
        if user.totp_secret is None:
            return None
        if not totp_code:
            return Refusal(LoginRefusal.totp_required)
        enrolment = _enrolment(session, user)
        step = totp.verify(user.totp_secret, totp_code, now, enrolment.last_step)
        if step is None:
            self._count_failure(session, user, now)
            return Refusal(LoginRefusal.wrong_totp)
        enrolment.last_step = step
        session.add(enrolment)
        return None

    def _count_failure(self, session: Session, user: User, now: int) -> None:
        user.failed_logins += 1
        user.locked_until_ms = self.lockout.lock_until_ms(user.failed_logins, now)
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

    # -- own account ----------------------------------------------------------------------

    def change_password(self, principal: Principal, old: str, new: str) -> None:
        with self.db.session() as session:
            user = _user(session, principal.user_id)
            if not verify_password(user.password_hash, old):
                raise AuthenticationFailed("the current password is wrong")
            if old == new:
                raise ValidationFailed("the new password must differ from the current one")
            _check_password(new)
            user.password_hash = hash_password(new)
            user.must_change_password = False
            user.updated_ms = self.clock.now_ms()
            session.add(user)
            # Other sessions of this account end; the current one goes on.
            for row in _open_sessions(session, user.id):
                if row.id != principal.session_id:
                    login_sessions.end_session(session, self.clock, row, "password changed")
            self._user_changed(session, principal, user, {"password": ["(old)", "(new)"]})

    def totp_begin(self, principal: Principal) -> tuple[str, str]:
        """Start TOTP enrolment: (secret, otpauth URI) for the authenticator app."""
        secret = totp.new_secret()
        with self.db.session() as session:
            user = _user(session, principal.user_id)
            if user.totp_secret is not None:
                raise Conflict("TOTP is already enabled; disable it first")
            enrolment = _enrolment(session, user)
            enrolment.pending_secret = secret
            session.add(enrolment)
        return secret, totp.provisioning_uri(secret, principal.username, "CCTV appliance")

    def totp_confirm(self, principal: Principal, code: str) -> None:
        """Finish enrolment with a code from the app; from then on logins need a code."""
        now = self.clock.now_ms()
        with self.db.session() as session:
            user = _user(session, principal.user_id)
            enrolment = _enrolment(session, user)
            if enrolment.pending_secret is None:
                raise Conflict("no TOTP enrolment in progress")
            step = totp.verify(enrolment.pending_secret, code, now, enrolment.last_step)
            if step is None:
                raise ValidationFailed("wrong TOTP code")
            user.totp_secret, enrolment.pending_secret = enrolment.pending_secret, None
            enrolment.last_step = step
            user.updated_ms = now
            session.add_all([user, enrolment])
            self._user_changed(session, principal, user, {"totp": [False, True]})

    def totp_disable(self, principal: Principal, user_id: int, code: str | None = None) -> None:
        """Remove TOTP: one's own with a current code, or anyone's by an administrator."""
        own = user_id == principal.user_id
        if not own and not principal.can(Permission.manage_accounts):
            raise PermissionDenied("only an administrator can remove another person's TOTP")
        now = self.clock.now_ms()
        with self.db.session() as session:
            user = _user(session, user_id)
            if user.totp_secret is None:
                raise Conflict("TOTP is not enabled")
            enrolment = _enrolment(session, user)
            if own and principal.via is not Via.local:
                step = (
                    totp.verify(user.totp_secret, code, now, enrolment.last_step) if code else None
                )
                if step is None:
                    raise ValidationFailed("a current TOTP code is required")
                enrolment.last_step = step
            user.totp_secret = None
            user.updated_ms = now
            session.add_all([user, enrolment])
            self._user_changed(session, principal, user, {"totp": [True, False]})

    # -- administration -------------------------------------------------------------------

    def create_user(
        self,
        principal: Principal,
        *,
        username: str,
        role: Role,
        display_name: str,
        password: str | None = None,
        department: str = "",
        title: str = "",
        phone: str = "",
        email: str = "",
    ) -> tuple[User, str | None]:
        """Add an account; returns it and the generated password (if none was given)."""
        _need(principal, Permission.manage_accounts)
        generated = None
        if password is None:
            password = generated = generate_password()
        with self.db.session() as session:
            user = create_user(
                session,
                self.clock,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                department=department,
                title=title,
                phone=phone,
                email=email,
                must_change_password=generated is not None,
            )
            record(
                self.ledger,
                session,
                EventType.user_created,
                actor=principal.actor,
                data={
                    "username": username,
                    "role": role.value,
                    "department": department,
                    "title": title,
                },
                ref=f"user:{user.id}",
            )
        return user, generated

    def update_user(self, principal: Principal, user_id: int, changes: UserChanges) -> User:
        _need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            user = _user(session, user_id)
            diff: dict[str, Any] = {}
            for name in _PROFILE_FIELDS:
                value = getattr(changes, name)
                if value is None:
                    continue
                value = value.value if isinstance(value, Role) else value
                if getattr(user, name) != value:
                    diff[name] = [getattr(user, name), value]
                    setattr(user, name, value)
            if not diff:
                return user
            if "role" in diff:
                if user.id == principal.user_id:
                    raise PermissionDenied("nobody changes their own role")
                if diff["role"][0] == Role.admin.value:
                    _keep_an_admin(session, user)
                if not permits(user.role, Permission.agency_api):
                    _revoke_tokens(session, self.clock, user.id, principal.actor)
            user.updated_ms = self.clock.now_ms()
            session.add(user)
            self._user_changed(session, principal, user, diff)
            return user

    def set_disabled(
        self, principal: Principal, user_id: int, disabled: bool, reason: str = ""
    ) -> User:
        """Disable (ends sessions, revokes tokens) or re-enable an account."""
        _need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            user = _user(session, user_id)
            if user.disabled == disabled:
                return user
            if disabled:
                if user.id == principal.user_id:
                    raise PermissionDenied("nobody disables their own account")
                if user.role == Role.admin.value:
                    _keep_an_admin(session, user)
                assert user.id is not None
                login_sessions.end_user_sessions(session, self.clock, user.id, "disabled")
                _revoke_tokens(session, self.clock, user.id, principal.actor)
            user.disabled = disabled
            user.updated_ms = self.clock.now_ms()
            session.add(user)
            if disabled:
                record(
                    self.ledger,
                    session,
                    EventType.user_disabled,
                    actor=principal.actor,
                    data={"username": user.username, "reason": reason},
                    ref=f"user:{user.id}",
                )
            else:
                self._user_changed(session, principal, user, {"disabled": [True, False]})
            return user

    def reset_password(self, principal: Principal, user_id: int) -> str:
        """A new generated password (shown once) that must be changed at the next login."""
        _need(principal, Permission.manage_accounts)
        password = generate_password()
        with self.db.session() as session:
            user = _user(session, user_id)
            user.password_hash = hash_password(password)
            user.must_change_password = True
            user.failed_logins, user.locked_until_ms = 0, 0
            user.updated_ms = self.clock.now_ms()
            session.add(user)
            assert user.id is not None
            login_sessions.end_user_sessions(session, self.clock, user.id, "password reset")
            self._user_changed(session, principal, user, {"password": ["(old)", "(reset)"]})
        return password

    def unlock(self, principal: Principal, user_id: int) -> User:
        _need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            user = _user(session, user_id)
            diff = {"locked_until_ms": [user.locked_until_ms, 0]}
            user.failed_logins, user.locked_until_ms = 0, 0
            session.add(user)
            self._user_changed(session, principal, user, diff)
            return user

    def list_users(self, principal: Principal) -> list[User]:
        if not (principal.can(Permission.manage_accounts) or principal.can(Permission.read_annex)):
            raise PermissionDenied("you may not list accounts")
        with self.db.session() as session:
            return list(session.exec(select(User).order_by(col(User.id))).all())

    def get_user(self, principal: Principal, user_id: int) -> User:
        if user_id != principal.user_id and not (
            principal.can(Permission.manage_accounts) or principal.can(Permission.read_annex)
        ):
            raise PermissionDenied("you may only read your own account")
        with self.db.session() as session:
            return _user(session, user_id)

    def user_id_by_name(self, username: str) -> int:
        with self.db.session() as session:
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None or user.id is None:
                raise NotFound(f"no user {username!r}")
            return user.id

    def annex(self, principal: Principal) -> list[AnnexRow]:
        """Everyone with access, for the policy's annex 1 (R-DOC-3): enabled accounts only."""
        _need(principal, Permission.read_annex)
        with self.db.session() as session:
            users = session.exec(
                select(User).where(col(User.disabled).is_(False)).order_by(col(User.id))
            ).all()
            rows = []
            for user in users:
                assert user.id is not None
                cameras = (
                    ["*"]
                    if permits(user.role, Permission.view_any_camera)
                    else grant_rows.granted_cameras(session, user.id)
                    if permits(user.role, Permission.view_footage)
                    else []
                )
                rows.append(
                    AnnexRow(
                        user.department,
                        user.title,
                        user.display_name,
                        user.phone,
                        user.role,
                        cameras,
                    )
                )
            return rows

    # -- camera grants (R-SEC-2) ----------------------------------------------------------

    def granted_cameras(self, user_id: int) -> list[str]:
        with self.db.session() as session:
            return grant_rows.granted_cameras(session, user_id)

    def grant_history(self, principal: Principal, user_id: int) -> list[CameraGrant]:
        if user_id != principal.user_id and not principal.can(Permission.manage_grants):
            raise PermissionDenied("you may only read your own grants")
        with self.db.session() as session:
            _user(session, user_id)
            return grant_rows.grant_history(session, user_id)

    def change_grants(
        self,
        principal: Principal,
        user_id: int,
        *,
        add: Iterable[str] = (),
        revoke: Iterable[str] = (),
    ) -> list[str]:
        """Grant and revoke cameras for one person in one recorded change; returns the grants."""
        _need(principal, Permission.manage_grants)
        add, revoke = sorted(set(add)), sorted(set(revoke))
        if set(add) & set(revoke):
            raise ValidationFailed("a camera cannot be granted and revoked at once")
        with self.db.session() as session:
            user = _user(session, user_id)
            assert user.id is not None
            if add:
                if user.id == principal.user_id:
                    raise PermissionDenied("a grant to oneself must come from someone else")
                if not permits(user.role, Permission.view_footage) or permits(
                    user.role, Permission.view_any_camera
                ):
                    raise ValidationFailed(f"a {user.role} account does not take camera grants")
            for camera_id in add:
                grant_rows.add_grant(
                    session, self.clock, user_id=user.id, camera_id=camera_id, by=principal.actor
                )
            for camera_id in revoke:
                grant_rows.revoke_grant(
                    session, self.clock, user_id=user.id, camera_id=camera_id, by=principal.actor
                )
            for cameras, granted in ((add, True), (revoke, False)):
                if cameras:
                    self._grant_changed(session, principal, user, cameras, granted=granted)
            return grant_rows.granted_cameras(session, user.id)

    def cameras_for(self, principal: Principal) -> list[tuple[Camera, bool]]:
        """The cameras whose metadata the principal may see, each with whether it may view it."""
        with self.db.session() as session:
            granted = grant_rows.granted_cameras(session, principal.user_id)
            cameras = session.exec(select(Camera).order_by(col(Camera.id))).all()
            return [
                (c, may_view_camera(principal.role, granted, c.id))
                for c in cameras
                if may_see_camera(principal.role, granted, c.id)
            ]

    # -- agency API tokens ----------------------------------------------------------------

    def issue_token(
        self,
        principal: Principal,
        user_id: int,
        *,
        name: str,
        scopes: Iterable[Scope],
        ttl_days: int,
    ) -> api_tokens.IssuedToken:
        _need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            user = _user(session, user_id)
            issued = api_tokens.issue_token(
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
        _need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            return api_tokens.list_tokens(session, user_id)

    def revoke_token(
        self, principal: Principal, token_id: int, *, user_id: int | None = None
    ) -> ApiToken:
        _need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            found = session.get(ApiToken, token_id)
            if found is None or (user_id is not None and found.user_id != user_id):
                raise NotFound(f"no API token {token_id}")
            row = api_tokens.revoke(session, self.clock, token_id, by=principal.actor)
            user = _user(session, row.user_id)
            self._grant_changed(
                session,
                principal,
                user,
                [],
                granted=False,
                api_token={"id": row.id, "name": row.name},
            )
            return row

    # -- helpers --------------------------------------------------------------------------

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


def _need(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise PermissionDenied(f"a {principal.role.value} may not {permission.value}")


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def _enrolment(session: Session, user: User) -> TotpEnrolment:
    assert user.id is not None
    enrolment = session.get(TotpEnrolment, user.id)
    return enrolment or TotpEnrolment(user_id=user.id)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


def _open_sessions(session: Session, user_id: int | None) -> list[LoginSession]:
    return list(
        session.exec(
            select(LoginSession).where(
                LoginSession.user_id == user_id, col(LoginSession.ended_ms).is_(None)
            )
        ).all()
    )


def _keep_an_admin(session: Session, leaving: User) -> None:
    others = session.exec(
        select(User).where(
            User.role == Role.admin.value,
            col(User.disabled).is_(False),
            User.id != leaving.id,
        )
    ).first()
    if others is None:
        raise Conflict("this is the last enabled administrator")


def _revoke_tokens(session: Session, clock: Clock, user_id: int | None, by: str) -> None:
    for row in session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id, col(ApiToken.revoked_ms).is_(None))
    ).all():
        assert row.id is not None
        api_tokens.revoke(session, clock, row.id, by=by)
