"""Recovery codes: one-time codes that stand in for a TOTP code when the phone is lost.

Ten codes are made when TOTP is switched on (and again on request, which voids the old set),
shown once, and kept only as SHA-256 digests: each carries 60 random bits and sign-in is
throttled per account and per client, so a slow hash would add nothing. A code is spent by the
sign-in (or the TOTP removal) that uses it; the ledger entry of that act says so and how many
are left. The functions work inside a caller's transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlmodel import Session, col, select

from appliance.models.access import RecoveryCode

__all__ = [
    "CODE_COUNT",
    "looks_like_recovery_code",
    "new_codes",
    "normalise",
    "remaining",
    "replace_codes",
    "spend",
    "void_codes",
]

CODE_COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or copied by hand
_GROUPS, _GROUP_LEN = 3, 4


def new_codes(count: int = CODE_COUNT) -> list[str]:
    """``count`` fresh codes like ``k7mq-3xha-p9sd``."""
    return [
        "-".join(
            "".join(secrets.choice(_ALPHABET) for _ in range(_GROUP_LEN)) for _ in range(_GROUPS)
        )
        for _ in range(count)
    ]


def normalise(code: str) -> str:
    """The code as stored: lower case, without spaces or dashes."""
    return "".join(ch for ch in code.lower() if ch not in " -\t")


def looks_like_recovery_code(code: str) -> bool:
    """Whether ``code`` has a recovery code's shape (not six digits of a TOTP code)."""
    plain = normalise(code)
    return len(plain) == _GROUPS * _GROUP_LEN and all(ch in _ALPHABET for ch in plain)


def _digest(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def replace_codes(session: Session, user_id: int, now_ms: int) -> list[str]:
    """Void the account's unused codes and make a new set; returns the codes (shown once)."""
    for row in _unused(session, user_id):
        row.used_ms = now_ms  # voided: a replaced set must not work either
        session.add(row)
    codes = new_codes()
    for code in codes:
        session.add(RecoveryCode(user_id=user_id, code_hash=_digest(code), created_ms=now_ms))
    session.flush()
    return codes


def void_codes(session: Session, user_id: int, now_ms: int) -> None:
    """Void every unused code (TOTP switched off)."""
    for row in _unused(session, user_id):
        row.used_ms = now_ms
        session.add(row)


def spend(session: Session, user_id: int, code: str, now_ms: int) -> bool:
    """Spend ``code`` if it is one of the account's unused codes; whether it was."""
    if not looks_like_recovery_code(code):
        return False
    wanted = _digest(code)
    for row in _unused(session, user_id):
        if hmac.compare_digest(row.code_hash, wanted):
            row.used_ms = now_ms
            session.add(row)
            return True
    return False


def remaining(session: Session, user_id: int) -> int:
    """How many unused codes the account has."""
    return len(_unused(session, user_id))


def _unused(session: Session, user_id: int) -> list[RecoveryCode]:
    return list(
        session.exec(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user_id, col(RecoveryCode.used_ms).is_(None)
            )
        ).all()
    )
