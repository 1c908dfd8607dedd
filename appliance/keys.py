"""Key files: created once by ``appliance init``, never overwritten.

Layout of the key dir (mode 0700, outside the data dir)::

    vault/<key_id>.pub    X25519 public key (hex); the recorder loads only this
    vault/<key_id>.key    X25519 private key (JSON, optionally sealed by a passphrase), 0600
    vault/current         id of the key new segments are sealed to
    signing/ed25519.key   ledger head signing seed (hex), 0600, separate from the vault
    signing/ed25519.pub   its verify key (hex)

The vault (``appliance.vault``) owns the private key's use; see design/keys.md.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from appliance.clock import Clock
from appliance.errors import Conflict, NotFound

__all__ = [
    "create_signing_key",
    "create_vault_key",
    "current_vault_key_id",
    "ensure_private_dir",
    "load_signing_key",
    "load_vault_public_key",
    "load_verify_key",
    "set_current_vault_key",
    "write_secret_file",
]


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and force mode 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_secret_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a new file durably with ``mode``; refuse to overwrite an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise Conflict(f"{path} exists; key files are never overwritten") from exc
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)


def create_vault_key(key_dir: Path, clock: Clock, *, make_current: bool = True) -> str:
    """Create a new X25519 vault key pair; return its id."""
    vault_dir = ensure_private_dir(key_dir / "vault")
    key = PrivateKey.generate()
    key_id = f"v{clock.now_ms()}-{secrets.token_hex(4)}"
    record = {
        "key_id": key_id,
        "created_ms": clock.now_ms(),
        "kdf": None,
        "private_hex": bytes(key).hex(),
    }
    write_secret_file(vault_dir / f"{key_id}.key", json.dumps(record).encode())
    write_secret_file(vault_dir / f"{key_id}.pub", bytes(key.public_key).hex().encode(), 0o644)
    if make_current:
        set_current_vault_key(key_dir, key_id)
    return key_id


def set_current_vault_key(key_dir: Path, key_id: str) -> None:
    vault_dir = key_dir / "vault"
    if not (vault_dir / f"{key_id}.pub").exists():
        raise NotFound(f"no vault key {key_id}")
    tmp = vault_dir / "current.tmp"
    tmp.unlink(missing_ok=True)
    write_secret_file(tmp, key_id.encode(), 0o644)
    tmp.replace(vault_dir / "current")
    _fsync_dir(vault_dir)


def current_vault_key_id(key_dir: Path) -> str:
    try:
        return (key_dir / "vault" / "current").read_text().strip()
    except FileNotFoundError as exc:
        raise NotFound(f"no vault key in {key_dir}: run `appliance init`") from exc


def load_vault_public_key(key_dir: Path, key_id: str | None = None) -> tuple[str, bytes]:
    """(key id, 32-byte public key) of ``key_id`` or the current key."""
    key_id = key_id or current_vault_key_id(key_dir)
    path = key_dir / "vault" / f"{key_id}.pub"
    try:
        return key_id, bytes.fromhex(path.read_text().strip())
    except FileNotFoundError as exc:
        raise NotFound(f"no public key file {path}") from exc


def create_signing_key(key_dir: Path) -> bytes:
    """Create the ed25519 ledger signing key; return its verify key."""
    signing_dir = ensure_private_dir(key_dir / "signing")
    key = SigningKey.generate()
    write_secret_file(signing_dir / "ed25519.key", bytes(key).hex().encode())
    write_secret_file(signing_dir / "ed25519.pub", bytes(key.verify_key).hex().encode(), 0o644)
    return bytes(key.verify_key)


def load_signing_key(key_dir: Path) -> SigningKey:
    path = key_dir / "signing" / "ed25519.key"
    try:
        return SigningKey(bytes.fromhex(path.read_text().strip()))
    except FileNotFoundError as exc:
        raise NotFound(f"no signing key {path}: run `appliance init`") from exc


def load_verify_key(key_dir: Path) -> bytes:
    path = key_dir / "signing" / "ed25519.pub"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError as exc:
        raise NotFound(f"no verify key {path}: run `appliance init`") from exc
