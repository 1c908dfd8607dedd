"""Why a password sign-in was refused, and what of that the person at the keyboard may learn.

Pure. The ledger always records the real reason; what is shown comes from the reason's
``user_may_know`` flag alone, never from its wording, so rewording a message cannot change what
an attacker learns. Since issue 13 no reason is told: "account locked" existed only for real
accounts (a username probe), and "TOTP code required", "wrong TOTP code" or "agency accounts
sign in with their token" come only after the right password (a password oracle). Every
refusal reads ``UNTOLD_MESSAGE`` and pays the same argon2id verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

__all__ = ["UNTOLD_MESSAGE", "LoginRefusal", "Refusal"]

UNTOLD_MESSAGE = "invalid username, password or TOTP code"


class LoginRefusal(StrEnum):
    """A reason to refuse a password sign-in; its value is the text the ledger records."""

    unknown_user = "unknown username"
    account_disabled = "account disabled"
    account_locked = "account locked"  # recorded with the seconds left, see Refusal.message
    wrong_password = "wrong password"  # noqa: S105 (a reason, not a password)
    agency_account = "agency accounts sign in with their API token"
    totp_required = "TOTP code required"
    wrong_totp = "wrong TOTP code"

    @property
    def user_may_know(self) -> bool:
        """Whether the client may be told this reason (else it reads ``UNTOLD_MESSAGE``)."""
        # A match over every member: mypy refuses a new member until it is decided here.
        match self:
            case (
                LoginRefusal.unknown_user
                | LoginRefusal.account_disabled
                | LoginRefusal.wrong_password
                | LoginRefusal.account_locked  # told only for real accounts: a username probe
                | LoginRefusal.agency_account  # told only after the right password
                | LoginRefusal.totp_required  # idem
                | LoginRefusal.wrong_totp  # idem
            ):
                return False
            case _:
                assert_never(self)


@dataclass(frozen=True)
class Refusal:
    """One refused sign-in: the reason, and for a lock the seconds until it ends."""

    reason: LoginRefusal
    locked_s: int = 0

    @property
    def message(self) -> str:
        """The real reason, as the ledger records it."""
        if self.reason is LoginRefusal.account_locked:
            return f"account locked for {self.locked_s} s after repeated failures"
        return self.reason.value

    @property
    def shown(self) -> str:
        """What the client is told."""
        return self.message if self.reason.user_may_know else UNTOLD_MESSAGE
