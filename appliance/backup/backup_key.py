"""The backup key: an X25519 key pair whose private half is derived from the backup passphrase.

``<key_dir>/backup.json`` holds the argon2id parameters (salt, cost) and the public half only,
so a scheduled backup encrypts without any secret on the box; the private half exists only
while a restore runs, derived from the passphrase someone types. The passphrase is separate
from the vault passphrase: the archive also carries the key dir, whose private keys stay sealed
under the vault passphrase inside it (two secrets open a backup's footage keys).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import nacl.pwhash.argon2id as argon2id
from nacl.public import PrivateKey

from appliance.errors import AuthenticationFailed, NotFound, ValidationFailed
from appliance.keys import replace_secret_file, write_secret_file
from appliance.vault import MIN_PASSPHRASE_CHARS
from appliance.vault._vault import KDF_LIMITS

__all__ = [
    "BACKUP_KEY_FILE",
    "backup_public_key",
    "derive_backup_key",
    "has_backup_key",
    "set_backup_passphrase",
]

BACKUP_KEY_FILE = "backup.json"


def _path(key_dir: Path) -> Path:
    return key_dir / BACKUP_KEY_FILE


def has_backup_key(key_dir: Path) -> bool:
    return _path(key_dir).exists()


def _derive(passphrase: str, kdf: dict[str, Any]) -> PrivateKey:
    seed = argon2id.kdf(
        PrivateKey.SIZE,
        passphrase.encode(),
        bytes.fromhex(str(kdf["salt_hex"])),
        opslimit=int(kdf["opslimit"]),
        memlimit=int(kdf["memlimit"]),
    )
    return PrivateKey(seed)


def set_backup_passphrase(key_dir: Path, passphrase: str, kdf_strength: str, now_ms: int) -> str:
    """Write (or replace) ``backup.json`` for ``passphrase``; return the public key, hex.

    Archives written before a change still open with the passphrase they were written under
    (the parameters travel in each archive's header).
    """
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise ValidationFailed(
            f"a backup passphrase needs at least {MIN_PASSPHRASE_CHARS} characters"
        )
    opslimit, memlimit = KDF_LIMITS[kdf_strength]
    kdf = {
        "alg": "argon2id13",
        "salt_hex": secrets.token_bytes(argon2id.SALTBYTES).hex(),
        "opslimit": opslimit,
        "memlimit": memlimit,
    }
    public = bytes(_derive(passphrase, kdf).public_key).hex()
    record = json.dumps({"version": 1, "kdf": kdf, "public_hex": public, "created_ms": now_ms})
    path = _path(key_dir)
    if path.exists():
        replace_secret_file(path, record.encode())
    else:
        write_secret_file(path, record.encode())
    return public


def backup_public_key(key_dir: Path) -> dict[str, Any]:
    """``{kdf, public_hex}`` for an archive's header; NotFound before a passphrase is set."""
    try:
        record: dict[str, Any] = json.loads(_path(key_dir).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFound(
            "no backup passphrase is set: run `appliance backup-passphrase` first"
        ) from exc
    return {"kdf": record["kdf"], "public_hex": record["public_hex"]}


def derive_backup_key(passphrase: str, backup_key: dict[str, Any]) -> PrivateKey:
    """The private key for an archive's ``backup_key`` header; AuthenticationFailed if the
    passphrase does not give its public half."""
    private = _derive(passphrase, backup_key["kdf"])
    if bytes(private.public_key).hex() != backup_key["public_hex"]:
        raise AuthenticationFailed("wrong backup passphrase: it does not open this archive")
    return private
