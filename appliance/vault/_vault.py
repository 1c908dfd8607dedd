"""The vault: public keys for recording, private keys for viewing only while unlocked."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox
from nacl.signing import SigningKey

from appliance.clock import Clock
from appliance.errors import (
    AuthenticationFailed,
    Conflict,
    FootageCorrupt,
    NotFound,
    ValidationFailed,
    VaultLocked,
)
from appliance.keys import (
    create_vault_key,
    current_vault_key_id,
    destroy_secret_file,
    list_vault_key_ids,
    load_vault_public_key,
    read_signing_key_file,
    read_vault_key_record,
    remember_signing_key,
    replace_secret_file,
    set_current_vault_key,
    signing_key_file,
    write_secret_file,
)

__all__ = ["KDF_LIMITS", "MIN_PASSPHRASE_CHARS", "Vault"]

MIN_PASSPHRASE_CHARS = 10

# (opslimit, memlimit) of argon2id per settings.vault.kdf_strength.
KDF_LIMITS: dict[str, tuple[int, int]] = {
    "interactive": (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE),
    "moderate": (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE),
    "sensitive": (argon2id.OPSLIMIT_SENSITIVE, argon2id.MEMLIMIT_SENSITIVE),
}

_KEYRING = "keyring.json"


def _derive(passphrase: str, kdf: dict[str, Any]) -> bytes:
    return argon2id.kdf(
        SecretBox.KEY_SIZE,
        passphrase.encode(),
        bytes.fromhex(kdf["salt_hex"]),
        opslimit=int(kdf["opslimit"]),
        memlimit=int(kdf["memlimit"]),
    )


class Vault:
    """Vault keys of one key dir.

    Without a passphrase the private key files are plain and the vault is always unlocked.
    Once a passphrase is set (``set_passphrase``) each private key file is sealed to a keyring
    key whose private half only argon2id(passphrase) opens: the vault then starts locked, and
    ``unlock`` loads the keyring into memory until ``lock`` or the end of the process.
    Recording never needs it: ``current_public_key`` reads public keys only. The signing key
    is sealed to the same keyring; ``unlock`` hands it to ``appliance.keys`` for the rest of
    the process (``lock`` keeps it, so heads go on being signed). Implements
    ``appliance.media.sealing.SegmentKeyOpener`` (``open_segment_key``) for playback.
    """

    def __init__(self, key_dir: Path, clock: Clock, kdf_strength: str = "moderate") -> None:
        if kdf_strength not in KDF_LIMITS:
            raise ValidationFailed(f"unknown kdf strength {kdf_strength!r}")
        self.key_dir = key_dir
        self._clock = clock
        self._kdf_strength = kdf_strength
        self._lock = threading.RLock()
        self._keyring: PrivateKey | None = None
        self._private: dict[str, PrivateKey] = {}
        self._locked_by_hand = False

    # -- state -------------------------------------------------------------------------------

    @property
    def _vault_dir(self) -> Path:
        return self.key_dir / "vault"

    @property
    def has_passphrase(self) -> bool:
        """True once a passphrase seals the private keys."""
        return (self._vault_dir / _KEYRING).exists()

    @property
    def is_unlocked(self) -> bool:
        """Whether footage can be decrypted in this process now."""
        with self._lock:
            if self.has_passphrase:
                return self._keyring is not None
            return not self._locked_by_hand

    # -- recording side (public keys only) ---------------------------------------------------

    def current_public_key(self) -> tuple[str, bytes]:
        """(key id, 32-byte X25519 public key) new segments are sealed to; read every call so a
        rotation by another process is seen at the next segment."""
        return load_vault_public_key(self.key_dir)

    def public_key(self, key_id: str) -> bytes:
        return load_vault_public_key(self.key_dir, key_id)[1]

    def seal_segment_key(self, segment_key: bytes) -> tuple[str, bytes]:
        """Seal a per-segment key to the current vault key: (vault key id, sealed key)."""
        key_id, public = self.current_public_key()
        return key_id, SealedBox(PublicKey(public)).encrypt(segment_key)

    def key_ids(self) -> list[str]:
        return list_vault_key_ids(self.key_dir)

    def current_key_id(self) -> str:
        return current_vault_key_id(self.key_dir)

    def has_private_key(self, key_id: str) -> bool:
        """True while the private key file exists (False once destroyed)."""
        return (self._vault_dir / f"{key_id}.key").exists()

    # -- viewing side --------------------------------------------------------------------------

    def open_segment_key(self, vault_key_id: str, sealed_key: bytes) -> bytes:
        """The per-segment key; VaultLocked while locked, NotFound once the key is destroyed."""
        private = self._private_key(vault_key_id)
        try:
            return SealedBox(private).decrypt(sealed_key)
        except nacl.exceptions.CryptoError as exc:
            raise FootageCorrupt(f"sealed key does not open with vault key {vault_key_id}") from exc

    def _private_key(self, key_id: str) -> PrivateKey:
        with self._lock:
            if not self.is_unlocked:
                raise VaultLocked("the vault is locked: unlock it with the passphrase to view")
            cached = self._private.get(key_id)
            if cached is not None:
                return cached
            record = read_vault_key_record(self.key_dir, key_id)
            private = PrivateKey(self._unwrap(record))
            self._private[key_id] = private
            return private

    def _unwrap(self, record: dict[str, Any]) -> bytes:
        if record.get("kdf") is None:
            return bytes.fromhex(record["private_hex"])
        if record["kdf"] != "keyring":
            raise FootageCorrupt(f"unknown key file format {record['kdf']!r}")
        if self._keyring is None:
            raise VaultLocked("the vault is locked")
        try:
            return SealedBox(self._keyring).decrypt(bytes.fromhex(record["sealed_hex"]))
        except nacl.exceptions.CryptoError as exc:
            raise FootageCorrupt(f"key file {record.get('key_id')} does not open") from exc

    # -- passphrase ------------------------------------------------------------------------------

    def _read_keyring(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self._vault_dir / _KEYRING).read_text())
        except FileNotFoundError as exc:
            raise Conflict("no passphrase is set for this vault") from exc
        return data

    def _open_keyring(self, passphrase: str) -> PrivateKey:
        ring = self._read_keyring()
        kek = _derive(passphrase, ring["kdf"])
        try:
            raw = SecretBox(kek).decrypt(bytes.fromhex(ring["sealed_private_hex"]))
        except nacl.exceptions.CryptoError as exc:
            raise AuthenticationFailed("wrong vault passphrase") from exc
        keyring = PrivateKey(raw)
        if bytes(keyring.public_key).hex() != ring["public_hex"]:
            raise FootageCorrupt("the keyring file is inconsistent")
        return keyring

    def unlock(self, passphrase: str) -> None:
        """Load the keyring; AuthenticationFailed on a wrong passphrase."""
        with self._lock:
            if not self.has_passphrase:
                self._locked_by_hand = False
                return
            keyring = self._open_keyring(passphrase)
            self._keyring = keyring
            self._locked_by_hand = False
            self._open_signing_key(keyring)

    def _open_signing_key(self, keyring: PrivateKey) -> None:
        """Unseal the signing key for this process (kept after ``lock``: see keys.md)."""
        try:
            record = read_signing_key_file(self.key_dir)
        except NotFound:
            return  # a vault without a signing key (tests of the vault alone)
        if record.get("kdf") != "keyring":
            return
        try:
            seed = SealedBox(keyring).decrypt(bytes.fromhex(record["sealed_hex"]))
        except nacl.exceptions.CryptoError as exc:
            raise FootageCorrupt("the signing key file does not open") from exc
        remember_signing_key(self.key_dir, SigningKey(seed))

    def lock(self) -> None:
        """Forget every private key (Python cannot promise the memory is wiped; see keys.md)."""
        with self._lock:
            if not self.has_passphrase:
                raise Conflict(
                    "no passphrase is set, so the vault cannot stay locked: "
                    "set one with `appliance vault set-passphrase`"
                )
            self._keyring = None
            self._private.clear()

    def _keyring_record(self, keyring: PrivateKey, passphrase: str) -> bytes:
        opslimit, memlimit = KDF_LIMITS[self._kdf_strength]
        kdf = {
            "alg": "argon2id13",
            "salt_hex": secrets.token_bytes(argon2id.SALTBYTES).hex(),
            "opslimit": opslimit,
            "memlimit": memlimit,
        }
        sealed = SecretBox(_derive(passphrase, kdf)).encrypt(bytes(keyring))
        record = {
            "version": 1,
            "public_hex": bytes(keyring.public_key).hex(),
            "kdf": kdf,
            "sealed_private_hex": sealed.hex(),
            "created_ms": self._clock.now_ms(),
        }
        return json.dumps(record).encode()

    def set_passphrase(self, new: str, current: str | None = None) -> None:
        """Set or change the passphrase; changing needs the current one (or an unlocked vault).

        First time: a keyring key pair is made and every plain private key file is rewritten
        sealed to it. A change rewrites only ``keyring.json`` (one atomic rename).
        """
        if len(new) < MIN_PASSPHRASE_CHARS:
            raise ValidationFailed(f"a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")
        with self._lock:
            path = self._vault_dir / _KEYRING
            if self.has_passphrase:
                if current is not None:
                    keyring = self._open_keyring(current)
                elif self._keyring is not None:
                    keyring = self._keyring
                else:
                    raise VaultLocked("give the current passphrase (or unlock first)")
                replace_secret_file(path, self._keyring_record(keyring, new))
            else:
                keyring = PrivateKey.generate()
                write_secret_file(path, self._keyring_record(keyring, new))
            self._keyring = keyring
            self._locked_by_hand = False
            self._seal_plain_key_files(keyring.public_key)
            self._seal_plain_signing_key(keyring.public_key)
            self._open_signing_key(keyring)

    def _seal_plain_key_files(self, keyring_public: PublicKey) -> None:
        for key_id in self.key_ids():
            try:
                record = read_vault_key_record(self.key_dir, key_id)
            except NotFound:
                continue  # destroyed
            if record.get("kdf") is not None:
                continue
            raw = bytes.fromhex(record.pop("private_hex"))
            record.update(self._seal_record(keyring_public, raw))
            replace_secret_file(self._vault_dir / f"{key_id}.key", json.dumps(record).encode())

    def _seal_plain_signing_key(self, keyring_public: PublicKey) -> None:
        try:
            record = read_signing_key_file(self.key_dir)
        except NotFound:
            return
        if record.get("kdf") is not None:
            return
        seed = bytes.fromhex(record["seed_hex"])
        data = signing_key_file(seed, lambda raw: self._seal_record(keyring_public, raw))
        replace_secret_file(self.key_dir / "signing" / "ed25519.key", data)

    def seal_to_keyring(self) -> Callable[[bytes], dict[str, Any]] | None:
        """What seals a new private key file (vault or signing): None without a passphrase."""
        if not self.has_passphrase:
            return None
        ring_public = PublicKey(bytes.fromhex(self._read_keyring()["public_hex"]))
        return lambda raw: self._seal_record(ring_public, raw)

    @staticmethod
    def _seal_record(keyring_public: PublicKey, raw: bytes) -> dict[str, Any]:
        return {"kdf": "keyring", "sealed_hex": SealedBox(keyring_public).encrypt(raw).hex()}

    # -- key files -----------------------------------------------------------------------------

    def create_key(self, *, make_current: bool = True) -> str:
        """A new vault key pair; sealed to the keyring if a passphrase is set.

        Needs no passphrase: sealing to the keyring uses its public key only.
        """
        with self._lock:
            return create_vault_key(
                self.key_dir, self._clock, make_current=make_current, seal=self.seal_to_keyring()
            )

    def make_current(self, key_id: str) -> None:
        """Seal new segments to ``key_id`` from now on."""
        set_current_vault_key(self.key_dir, key_id)

    def destroy_private_key(self, key_id: str) -> bool:
        """Overwrite and unlink a private key file (the public half stays, naming the key).

        Refuses the current key. Returns False if it was already gone.
        """
        with self._lock:
            if key_id == self.current_key_id():
                raise Conflict(f"vault key {key_id} is current; rotate first")
            self._private.pop(key_id, None)
            return destroy_secret_file(self._vault_dir / f"{key_id}.key")
