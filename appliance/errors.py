"""Errors of the appliance's domain layer.

The hierarchy::

    ApplianceError
    ├── ConfigError            a configuration was refused at load (names the field)
    ├── NotFound               a camera, segment, request, user ... does not exist
    ├── Conflict               the operation clashes with current state (duplicate, wrong state)
    ├── PermissionDenied       the principal's role or grant does not allow it
    ├── AuthenticationFailed   bad credentials, locked account, expired session or token
    ├── ValidationFailed       input is well-formed but breaks a rule (e.g. no purpose given)
    ├── RateLimited            too many attempts in a window (carries retry_after_s, or None)
    ├── VaultLocked            the vault's private key is not loaded: no viewing or export
    ├── LedgerUnavailable      the ledger cannot be written: the guarded operation is refused
    ├── LedgerTampered         verification found a bad entry (carries its sequence number)
    ├── FootageCorrupt         stored footage failed its hash or authentication check
    └── MediaError             a stream or segment cannot be demuxed, muxed or decoded

API routes map each to a 4xx (``api.errors``); none of them is a 500.
"""

from __future__ import annotations

__all__ = [
    "ApplianceError",
    "AuthenticationFailed",
    "ConfigError",
    "Conflict",
    "FootageCorrupt",
    "LedgerTampered",
    "LedgerUnavailable",
    "MediaError",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ValidationFailed",
    "VaultLocked",
]


class ApplianceError(Exception):
    """Base of every error the domain layer raises on purpose."""


class ConfigError(ApplianceError):
    """The configuration breaks a rule; the message names the field."""


class NotFound(ApplianceError):
    """The named object does not exist."""


class Conflict(ApplianceError):
    """The operation clashes with the current state."""


class PermissionDenied(ApplianceError):
    """The principal may not do this."""


class AuthenticationFailed(ApplianceError):
    """Credentials, session or token are not valid."""


class ValidationFailed(ApplianceError):
    """Input breaks a domain rule."""


class RateLimited(ApplianceError):
    """Too many attempts in a window; ``retry_after_s`` says when to try again (None: not
    by waiting alone)."""

    def __init__(self, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class VaultLocked(ApplianceError):
    """The vault private key is not loaded; footage cannot be decrypted."""


class LedgerUnavailable(ApplianceError):
    """The ledger cannot be written, so the operation it guards must not happen."""


class LedgerTampered(ApplianceError):
    """Verification failed; ``seq`` is the first bad entry (or the head that broke)."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class FootageCorrupt(ApplianceError):
    """Stored data failed its hash or authentication check."""


class MediaError(ApplianceError):
    """A stream or segment cannot be processed."""
