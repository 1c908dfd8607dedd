"""Account administration: create, change, disable, reset, unlock, list, and the access annex.

Each change and its ledger entry commit together; the acting principal's permission is checked
here, whatever the caller already checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from appliance.access import grants as grant_rows
from appliance.access import sessions as login_sessions
from appliance.access import tokens as api_tokens
from appliance.access._shared import AccessBase, need, user_row
from appliance.access.audit import EventType, record
from appliance.access.principal import Principal
from appliance.access.privileged import is_privileged, may_assign_role, reset_is_shown
from appliance.access.roles import Permission, permits
from appliance.accounts import create_user, generate_password, hash_password
from appliance.alarms import AlarmKind, raise_alarm
from appliance.errors import Conflict, NotFound, PermissionDenied
from appliance.models import Role, User

__all__ = ["AccountService", "AnnexRow", "UserChanges"]

_PROFILE_FIELDS = ("display_name", "role", "department", "title", "phone", "email")


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


class AccountService(AccessBase):
    """Accounts as an administrator sees them (permission ``manage_accounts``, ``read_annex``)."""

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
        """Add an account; returns it and the generated password (if none was given).

        An officer or admin account is the officer's (or the console's) to create, and raises
        an alarm."""
        _need_role_change(principal, None, role)
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
            if is_privileged(role):
                self._privileged_alarm(session, principal, user, f"new {role.value} account")
        return user, generated

    def _privileged_alarm(
        self, session: Session, principal: Principal, user: User, what: str
    ) -> None:
        raise_alarm(
            session,
            AlarmKind.privileged_account,
            f"{what} {user.username!r} by {principal.actor}",
            self.clock.now_ms(),
            subject=f"user:{user.id}",
        )

    def update_user(self, principal: Principal, user_id: int, changes: UserChanges) -> User:
        """Change profile fields (``manage_accounts``) or the role (officer and admin roles:
        ``assign_privileged_roles``, see ``privileged.may_assign_role``)."""
        if not (
            principal.can(Permission.manage_accounts)
            or principal.can(Permission.assign_privileged_roles)
        ):
            raise PermissionDenied(f"a {principal.role.value} may not change accounts")
        with self.db.session() as session:
            user = user_row(session, user_id)
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
            if set(diff) - {"role"}:
                need(principal, Permission.manage_accounts)
            if "role" in diff:
                if user.id == principal.user_id:
                    raise PermissionDenied("nobody changes their own role")
                _need_role_change(principal, diff["role"][0], diff["role"][1])
                if is_privileged(user.role):
                    self._privileged_alarm(session, principal, user, f"account made {user.role}:")
                if diff["role"][0] == Role.admin.value:
                    _keep_an_admin(session, user)
                if not permits(user.role, Permission.agency_api):
                    api_tokens.revoke_all(session, self.clock, user.id, principal.actor)
            user.updated_ms = self.clock.now_ms()
            session.add(user)
            self._user_changed(session, principal, user, diff)
            return user

    def set_disabled(
        self, principal: Principal, user_id: int, disabled: bool, reason: str = ""
    ) -> User:
        """Disable (ends sessions, revokes tokens) or re-enable an account."""
        need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            user = user_row(session, user_id)
            if user.disabled == disabled:
                return user
            if disabled:
                if user.id == principal.user_id:
                    raise PermissionDenied("nobody disables their own account")
                if user.role == Role.admin.value:
                    _keep_an_admin(session, user)
                assert user.id is not None
                login_sessions.end_user_sessions(session, self.clock, user.id, "disabled")
                api_tokens.revoke_all(session, self.clock, user.id, principal.actor)
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

    def reset_password(self, principal: Principal, user_id: int) -> str | None:
        """A new generated password (shown once) that must be changed at the next login.

        An officer's or admin's new password is not shown to whoever reset it (None is
        returned): the account is closed until its owner resets it again at the appliance's
        console (``appliance user reset-password``), and an alarm says so."""
        need(principal, Permission.manage_accounts)
        password = generate_password()
        with self.db.session() as session:
            user = user_row(session, user_id)
            shown = reset_is_shown(principal, user.role)
            user.password_hash = hash_password(password)
            user.must_change_password = True
            user.failed_logins, user.locked_until_ms = 0, 0
            user.updated_ms = self.clock.now_ms()
            session.add(user)
            assert user.id is not None
            login_sessions.end_user_sessions(session, self.clock, user.id, "password reset")
            diff: dict[str, Any] = {"password": ["(old)", "(reset)"]}
            if not shown:
                diff["delivered"] = "console"
                raise_alarm(
                    session,
                    AlarmKind.privileged_reset,
                    f"{user.username!r}'s password was reset by {principal.actor}; "
                    "the owner sets a new one at the console (appliance user reset-password)",
                    self.clock.now_ms(),
                    subject=f"user:{user.id}",
                )
            self._user_changed(session, principal, user, diff)
        return password if shown else None

    def unlock(self, principal: Principal, user_id: int) -> User:
        need(principal, Permission.manage_accounts)
        with self.db.session() as session:
            user = user_row(session, user_id)
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
            return user_row(session, user_id)

    def user_id_by_name(self, username: str) -> int:
        with self.db.session() as session:
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None or user.id is None:
                raise NotFound(f"no user {username!r}")
            return user.id

    def annex(self, principal: Principal) -> list[AnnexRow]:
        """Everyone with access, for the policy's annex 1 (R-DOC-3): enabled accounts only."""
        need(principal, Permission.read_annex)
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


def _need_role_change(principal: Principal, old: Role | str | None, new: Role | str) -> None:
    if not may_assign_role(principal, old, new):
        raise PermissionDenied(
            "only the officer (or root at the appliance's console) assigns or changes the "
            "officer and admin roles"
            if is_privileged(new) or (old is not None and is_privileged(old))
            else f"a {principal.role.value} may not manage accounts"
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
