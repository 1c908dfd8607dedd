"""Staff accounts: password hashing (argon2id through libsodium) and account creation."""

from __future__ import annotations

import secrets

import nacl.exceptions
import nacl.pwhash
from sqlmodel import Session, select

from appliance.clock import Clock
from appliance.errors import Conflict, ValidationFailed
from appliance.models import Role, User

__all__ = [
    "create_user",
    "generate_password",
    "hash_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    """An argon2id hash string (libsodium's encoding, with its own salt and limits)."""
    return nacl.pwhash.argon2id.str(
        password.encode(),
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        memlimit=nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    ).decode()


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return bool(nacl.pwhash.verify(password_hash.encode(), password.encode()))
    except (nacl.exceptions.InvalidkeyError, ValueError):
        return False


def generate_password() -> str:
    """A random password for a new account, shown once (about 96 bits)."""
    return secrets.token_urlsafe(12)


def create_user(
    session: Session,
    clock: Clock,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    department: str = "",
    title: str = "",
    phone: str = "",
    email: str = "",
    must_change_password: bool = False,
) -> User:
    """Add an account; the caller records the grant in the ledger."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"user {username!r} exists")
    now = clock.now_ms()
    user = User(
        username=username,
        display_name=display_name,
        role=role.value,
        department=department,
        title=title,
        phone=phone,
        email=email,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
        created_ms=now,
        updated_ms=now,
    )
    session.add(user)
    session.flush()
    return user
