"""TOTP second factor (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1, 6 digits, 30 s steps).

Pure functions: the caller passes the time and remembers the last accepted step, so a code
is accepted once (no replay) and tests need no waiting. One function reads that step from the
database, under a lock (``locked_enrolment``): two sign-ins racing with one code must not both
read the step before either records it.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from urllib.parse import quote, urlencode

from sqlmodel import Session, select

from appliance.models import User
from appliance.models.access import TotpEnrolment

__all__ = [
    "STEP_S",
    "hotp",
    "locked_enrolment",
    "new_secret",
    "provisioning_uri",
    "step_at",
    "totp",
    "verify",
]

STEP_S = 30
DIGITS = 6


def new_secret() -> str:
    """A random 160-bit secret in base32 (what authenticator apps read)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret_b32: str) -> bytes:
    padded = secret_b32.upper() + "=" * (-len(secret_b32) % 8)
    return base64.b32decode(padded)


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 HOTP value of ``counter``."""
    mac = hmac.new(key, counter.to_bytes(8, "big"), digest).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_at(now_ms: int, step_s: int = STEP_S) -> int:
    return now_ms // (step_s * 1000)


def totp(secret_b32: str, now_ms: int, step_s: int = STEP_S, digits: int = DIGITS) -> str:
    """The code valid at ``now_ms``."""
    return hotp(_key(secret_b32), step_at(now_ms, step_s), digits)


def verify(
    secret_b32: str, code: str, now_ms: int, last_step: int = 0, window: int = 1
) -> int | None:
    """The step ``code`` matches (within ±``window`` steps and after ``last_step``), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == DIGITS):
        return None
    key = _key(secret_b32)
    current = step_at(now_ms)
    for step in range(current - window, current + window + 1):
        if step > last_step and hmac.compare_digest(hotp(key, step), code):
            return step
    return None


def provisioning_uri(secret_b32: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from a QR code."""
    label = quote(f"{issuer}:{account}")
    query = urlencode({"secret": secret_b32, "issuer": issuer, "digits": DIGITS, "period": STEP_S})
    return f"otpauth://totp/{label}?{query}"


def locked_enrolment(session: Session, user: User) -> TotpEnrolment:
    """The account's TOTP enrolment (a new one if none), read after locking the account row.

    ``SELECT ... FOR UPDATE`` on the account (PostgreSQL; SQLite has one writer anyway) makes
    a second sign-in or TOTP change of the same account wait until the first commits, then
    read the step it recorded: a code is used once. ``user`` is refreshed from the locked row.
    """
    assert user.id is not None
    fresh = {"populate_existing": True}
    session.exec(
        select(User).where(User.id == user.id).with_for_update().execution_options(**fresh)
    ).one()
    found = session.exec(
        select(TotpEnrolment).where(TotpEnrolment.user_id == user.id).execution_options(**fresh)
    ).first()
    return found or TotpEnrolment(user_id=user.id)
