"""One's own account: changing one's password, enrolling and removing a TOTP second factor,
and the recovery codes that stand in for a TOTP code (``recovery``).

``totp_disable`` also lets an administrator remove someone else's TOTP (a lost phone), except an
officer's or admin's: that is done at the appliance's console (``privileged.may_remove_totp``).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from appliance.access import recovery, totp
from appliance.access import sessions as login_sessions
from appliance.access._shared import AccessBase, user_row
from appliance.access.principal import Principal, Via
from appliance.access.privileged import may_remove_totp
from appliance.access.roles import Permission
from appliance.accounts import MIN_PASSWORD_LENGTH, hash_password, verify_password
from appliance.errors import AuthenticationFailed, Conflict, PermissionDenied, ValidationFailed
from appliance.models import User
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

    def totp_confirm(self, principal: Principal, code: str) -> list[str]:
        """Finish enrolment with a code from the app; from then on logins need a code.

        Returns the account's new recovery codes (shown once)."""
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
            assert user.id is not None
            codes = recovery.replace_codes(session, user.id, now)
            self._user_changed(
                session, principal, user, {"totp": [False, True], "recovery_codes": len(codes)}
            )
            return codes

    def new_recovery_codes(self, principal: Principal, code: str) -> list[str]:
        """A new set of recovery codes for one's own account (the old set stops working);
        needs a current TOTP code, or an unused recovery code."""
        now = self.clock.now_ms()
        with self.db.session() as session:
            user = user_row(session, principal.user_id)
            if user.totp_secret is None:
                raise Conflict("TOTP is not enabled")
            spent = self._second_factor(session, user, code, now)
            assert user.id is not None
            codes = recovery.replace_codes(session, user.id, now)
            self._user_changed(
                session,
                principal,
                user,
                {"recovery_codes": ["(old)", len(codes)], "second_factor": spent},
            )
            return codes

    def recovery_codes_left(self, principal: Principal) -> int:
        """How many unused recovery codes one's own account has."""
        with self.db.session() as session:
            return recovery.remaining(session, principal.user_id)

    def _second_factor(self, session: Session, user: User, code: str | None, now: int) -> str:
        """Check a current TOTP code or spend a recovery code; which one it was."""
        assert user.id is not None and user.totp_secret is not None
        if code and recovery.spend(session, user.id, code, now):
            return "recovery_code"
        enrolment = totp.locked_enrolment(session, user)
        step = totp.verify(user.totp_secret, code, now, enrolment.last_step) if code else None
        if step is None:
            raise ValidationFailed("a current TOTP code is required")
        enrolment.last_step = step
        session.add(enrolment)
        return "totp"

    def totp_disable(self, principal: Principal, user_id: int, code: str | None = None) -> None:
        """Remove TOTP: one's own with a current code (or a recovery code), or anyone's by an
        administrator; the recovery codes go with it."""
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
            totp.locked_enrolment(session, user)  # the row lock: a racing use of a code waits
            if user.totp_secret is None:
                raise Conflict("TOTP is not enabled")
            diff: dict[str, object] = {"totp": [True, False]}
            if own and principal.via is not Via.local:
                diff["second_factor"] = self._second_factor(session, user, code, now)
            assert user.id is not None
            recovery.void_codes(session, user.id, now)
            user.totp_secret = None
            user.updated_ms = now
            session.add(user)
            self._user_changed(session, principal, user, diff)


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
