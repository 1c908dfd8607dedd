"""Random bearer secrets (session cookies, CSRF tokens, API tokens) and their stored digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["API_TOKEN_PREFIX", "digest", "digests_equal", "new_secret_token"]

API_TOKEN_PREFIX = "cctv_"  # noqa: S105 (a label, not a secret)


def new_secret_token(prefix: str = "") -> str:
    """256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What is stored instead of the token: SHA-256 hex (the token is random, so no salt)."""
    return hashlib.sha256(token.encode()).hexdigest()


def digests_equal(token: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(token), stored_digest)
