"""One's own account: changing one's password, enrolling and removing a TOTP second factor.

``totp_disable`` also lets an administrator remove someone else's TOTP (a lost phone), except an
officer's or admin's: that is done at the appliance's console (``privileged.may_remove_totp``).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from appliance.access import sessions as login_sessions
from appliance.access import totp
from appliance.access._shared import AccessBase, user_row
from appliance.access.principal import Principal, Via
from appliance.access.privileged import may_remove_totp
from appliance.access.roles import Permission
from appliance.accounts import MIN_PASSWORD_LENGTH, hash_password, verify_password
from appliance.errors import AuthenticationFailed, Conflict, PermissionDenied, ValidationFailed
from appliance.models.access import LoginSession

__all__ = ["OwnAccountService"]


class OwnAccountService(AccessBase):
    """Password and TOTP of the signed-in person."""

    def change_password(self, principal: Principal, old: str, new: str) -> None:
        with self.db.session() as session:
            user = user_row(session, principal.user_id)
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
            user = user_row(session, principal.user_id)
            if user.totp_secret is not None:
                raise Conflict("TOTP is already enabled; disable it first")
            enrolment = totp.locked_enrolment(session, user)
            enrolment.pending_secret = secret
            session.add(enrolment)
        return secret, totp.provisioning_uri(secret, principal.username, "CCTV appliance")

    def totp_confirm(self, principal: Principal, code: str) -> None:
        """Finish enrolment with a code from the app; from then on logins need a code."""
        now = self.clock.now_ms()
        with self.db.session() as session:
            user = user_row(session, principal.user_id)
            enrolment = totp.locked_enrolment(session, user)
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
            user = user_row(session, user_id)
            if not may_remove_totp(principal, user_id, user.role):
                raise PermissionDenied(
                    "an officer's or admin's second factor is removed at the appliance's "
                    "console (appliance user totp --off)"
                )
            enrolment = totp.locked_enrolment(session, user)
            if user.totp_secret is None:
                raise Conflict("TOTP is not enabled")
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
