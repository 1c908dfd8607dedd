"""Key files: created by ``appliance init`` and by rotation; replaced only overwrite-first.

Layout of the key dir (mode 0700, outside the data dir)::

    vault/<key_id>.pub    X25519 public key (hex); the recorder loads only this
    vault/<key_id>.key    X25519 private key (JSON, optionally sealed by a passphrase), 0600
    vault/current         id of the key new segments are sealed to
    vault/keyring.json    only once a passphrase is set: the keyring key pair, its private half
                          encrypted under argon2id(passphrase); each <key_id>.key then holds
                          its private key sealed to the keyring's public key ("kdf": "keyring")
    signing/ed25519.key   ledger head and export signing seed, 0600: hex without a passphrase,
                          else JSON sealed to the keyring like a vault key ("kdf": "keyring")
    signing/ed25519.pub   its verify key (hex)

The vault (``appliance.vault``) owns the private key's use; see design/keys.md.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from appliance.clock import Clock
from appliance.errors import Conflict, NotFound, VaultLocked

__all__ = [
    "create_signing_key",
    "create_vault_key",
    "current_vault_key_id",
    "destroy_replaced_leftovers",
    "destroy_secret_file",
    "ensure_private_dir",
    "list_vault_key_ids",
    "load_signing_key",
    "load_vault_public_key",
    "load_verify_key",
    "read_signing_key_file",
    "read_vault_key_record",
    "remember_signing_key",
    "replace_secret_file",
    "set_current_vault_key",
    "signing_key_file",
    "write_secret_file",
]


_OLD = ".old"  # the second name of a replaced key file until it is overwritten


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


def create_vault_key(
    key_dir: Path,
    clock: Clock,
    *,
    make_current: bool = True,
    seal: Callable[[bytes], dict[str, Any]] | None = None,
) -> str:
    """Create a new X25519 vault key pair; return its id.

    ``seal`` turns the raw private key into the fields stored instead of ``private_hex``
    (``appliance.vault`` seals it to the keyring once a passphrase is set).
    """
    vault_dir = ensure_private_dir(key_dir / "vault")
    key = PrivateKey.generate()
    key_id = f"v{clock.now_ms()}-{secrets.token_hex(4)}"
    secret: dict[str, Any] = (
        seal(bytes(key)) if seal else {"kdf": None, "private_hex": bytes(key).hex()}
    )
    record = {"key_id": key_id, "created_ms": clock.now_ms(), **secret}
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


def create_signing_key(
    key_dir: Path, *, seal: Callable[[bytes], dict[str, Any]] | None = None
) -> bytes:
    """Create the ed25519 signing key; return its verify key.

    ``seal`` (``Vault.seal_to_keyring`` once a passphrase is set) turns the seed into the
    fields stored instead of the plain hex, exactly as for a vault private key.
    """
    signing_dir = ensure_private_dir(key_dir / "signing")
    key = SigningKey.generate()
    write_secret_file(signing_dir / "ed25519.key", signing_key_file(bytes(key), seal))
    write_secret_file(signing_dir / "ed25519.pub", bytes(key.verify_key).hex().encode(), 0o644)
    return bytes(key.verify_key)


def signing_key_file(seed: bytes, seal: Callable[[bytes], dict[str, Any]] | None) -> bytes:
    """The content of ``signing/ed25519.key``: the seed in hex, or JSON sealed to the keyring."""
    if seal is None:
        return seed.hex().encode()
    return json.dumps({"kdf": "keyring", **seal(seed)}).encode()


def read_signing_key_file(key_dir: Path) -> dict[str, Any]:
    """The signing key file as ``{"kdf": None, "seed_hex"}`` or ``{"kdf": "keyring", ...}``."""
    path = key_dir / "signing" / "ed25519.key"
    try:
        text = path.read_text().strip()
    except FileNotFoundError as exc:
        raise NotFound(f"no signing key {path}: run `appliance init`") from exc
    if text.startswith("{"):
        record: dict[str, Any] = json.loads(text)
        return record
    return {"kdf": None, "seed_hex": text}


# Signing keys opened by an unlocked vault, per key dir: kept for the life of the process
# (``Vault.lock`` does not forget them) so ledger heads and exports are signed while viewing is
# locked. One per key dir, like the ``Vault`` itself (design/keys.md).
_OPENED_SIGNING_KEYS: dict[Path, SigningKey] = {}


def remember_signing_key(key_dir: Path, key: SigningKey) -> None:
    """Keep a signing key the vault unsealed, for ``load_signing_key`` in this process."""
    _OPENED_SIGNING_KEYS[key_dir.resolve()] = key


def load_signing_key(key_dir: Path) -> SigningKey:
    """The ed25519 signing key: read from a plain file, or the one the vault unsealed at its
    unlock in this process; VaultLocked while it is sealed and the vault was never unlocked."""
    record = read_signing_key_file(key_dir)
    if record.get("kdf") is None:
        return SigningKey(bytes.fromhex(record["seed_hex"]))
    opened = _OPENED_SIGNING_KEYS.get(key_dir.resolve())
    if opened is None:
        raise VaultLocked("the signing key is sealed: unlock the vault (`appliance unlock`)")
    return opened


def load_verify_key(key_dir: Path) -> bytes:
    path = key_dir / "signing" / "ed25519.pub"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError as exc:
        raise NotFound(f"no verify key {path}: run `appliance init`") from exc


def list_vault_key_ids(key_dir: Path) -> list[str]:
    """Ids of the vault keys whose public key is on disk (destroyed ones included), sorted."""
    vault_dir = key_dir / "vault"
    if not vault_dir.is_dir():
        return []
    return sorted(path.stem for path in vault_dir.glob("*.pub"))


def read_vault_key_record(key_dir: Path, key_id: str) -> dict[str, Any]:
    """The JSON record of a private key file; NotFound once it was destroyed."""
    path = key_dir / "vault" / f"{key_id}.key"
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise NotFound(f"no private key file for vault key {key_id}") from exc
    return record


def replace_secret_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` atomically, then overwrite the old content's blocks.

    The new content goes to a temp file (fsync); the old inode gets a second name,
    ``<name>.old`` (a hard link); the temp file is renamed over ``path`` (fsync the dir), so a
    reader sees the old or the new file, never neither; then ``<name>.old`` is overwritten,
    fsynced and unlinked. A crash leaves at most a ``.old`` behind, which
    ``destroy_replaced_leftovers`` (every retention cycle) and the next replacement destroy.
    """
    old = path.with_name(path.name + _OLD)
    destroy_secret_file(old)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    write_secret_file(tmp, data, mode)
    if path.exists():
        os.link(path, old)
    tmp.replace(path)
    _fsync_dir(path.parent)
    destroy_secret_file(old)


def destroy_replaced_leftovers(key_dir: Path) -> list[Path]:
    """Overwrite and unlink every ``*.old`` an interrupted ``replace_secret_file`` left."""
    found = [p for sub in ("vault", "signing") for p in (key_dir / sub).glob(f"*{_OLD}")]
    for path in found:
        destroy_secret_file(path)
    return found


def destroy_secret_file(path: Path) -> bool:
    """Overwrite ``path`` with random bytes, fsync, unlink, fsync the dir; False if absent.

    On flash or copy-on-write storage the overwrite may not reach the old blocks; what makes
    the destruction final is that no copy of the key exists elsewhere (design/keys.md).
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        size = os.fstat(fd).st_size
        os.write(fd, secrets.token_bytes(max(size, 1)))
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()
    _fsync_dir(path.parent)
    return True
