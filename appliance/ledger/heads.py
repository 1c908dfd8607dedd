"""Signed heads: an ed25519 signature over (kind, seq, hash, signed time, previous head).

A head exported to a file (or copied onto paper) fixes the chain up to its ``seq``: any later
change to entries up to ``seq``, or a truncation below it, no longer matches it. Since format 2
each head also names the hash of the head signed before it (``prev``), so the heads form a
chain of their own and a head deleted from the middle shows (design/ledger.md). Format 1 heads,
signed before that, still verify; they carry no ``prev``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from appliance.clock import from_ms
from appliance.errors import ValidationFailed

__all__ = [
    "FIRST_PREV",
    "FORMAT",
    "FORMAT_V1",
    "HeadKind",
    "SignedHead",
    "fingerprint_text",
    "head_hash",
    "key_fingerprint",
    "key_id",
    "sign",
    "signed_message",
]

FORMAT_V1 = "clinic-cctv-ledger-head/1"
FORMAT = "clinic-cctv-ledger-head/2"
FIRST_PREV = "00" * 32  # the ``prev`` of the very first head


class HeadKind:
    """Values of ``SignedHead.kind``."""

    head = "head"  # periodic, on stop, or on demand (exported for witnessing)
    checkpoint = "checkpoint"  # a retention cut: verification starts here


def key_id(verify_key: bytes) -> str:
    """Short id of a verify key: its first 16 hex digits."""
    return verify_key.hex()[:16]


def key_fingerprint(verify_key: bytes) -> str:
    """The fingerprint a site writes down to pin the verify key: SHA-256 of it, 64 hex digits."""
    return hashlib.sha256(verify_key).hexdigest()


def fingerprint_text(verify_key: bytes) -> str:
    """The fingerprint as printed (to copy onto paper): groups of 4 hex digits."""
    fp = key_fingerprint(verify_key)
    return " ".join(fp[i : i + 4] for i in range(0, len(fp), 4))


def signed_message(
    kind: str, seq: int, hash_hex: str, signed_ms: int, prev_hex: str | None = None
) -> bytes:
    """The exact bytes signed: format 2 with ``prev_hex``, format 1 (older heads) without."""
    body: dict[str, Any] = {"hash": hash_hex, "kind": kind, "seq": seq, "signed_ms": signed_ms}
    if prev_hex is None:
        body["format"] = FORMAT_V1
    else:
        body["format"] = FORMAT
        body["prev"] = prev_hex
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class SignedHead:
    """The chain's state at ``seq`` (hash of entry ``seq``), signed at ``signed_ms``.

    ``prev_hex`` is the ``head_hash`` of the head signed before this one (``FIRST_PREV`` for
    the first), None for a format 1 head.
    """

    kind: str
    seq: int
    hash_hex: str
    signed_ms: int
    key_id: str
    signature_hex: str
    prev_hex: str | None = None

    @property
    def format(self) -> str:
        return FORMAT_V1 if self.prev_hex is None else FORMAT

    def message(self) -> bytes:
        return signed_message(self.kind, self.seq, self.hash_hex, self.signed_ms, self.prev_hex)

    def check_signature(self, verify_key: bytes) -> bool:
        """True when this head was signed by ``verify_key``."""
        if key_id(verify_key) != self.key_id:
            return False
        try:
            VerifyKey(verify_key).verify(self.message(), bytes.fromhex(self.signature_hex))
        except (BadSignatureError, ValueError):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.format,
            "kind": self.kind,
            "seq": self.seq,
            "hash": self.hash_hex,
            "signed_ms": self.signed_ms,
            "key_id": self.key_id,
            "signature": self.signature_hex,
        }
        if self.prev_hex is not None:
            out["prev"] = self.prev_hex
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_line(self) -> str:
        """One line of JSON (the heads file, syslog), without the newline."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SignedHead:
        """Parse an exported head (either format); raise ValidationFailed if it is not one."""
        try:
            raw = json.loads(text)
            fmt = raw.get("format")
            if fmt not in (FORMAT, FORMAT_V1):
                raise ValueError(f"format is {fmt!r}, expected {FORMAT!r}")
            prev = str(raw["prev"]) if fmt == FORMAT else None
            return cls(
                kind=str(raw["kind"]),
                seq=int(raw["seq"]),
                hash_hex=str(raw["hash"]),
                signed_ms=int(raw["signed_ms"]),
                key_id=str(raw["key_id"]),
                signature_hex=str(raw["signature"]),
                prev_hex=prev,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValidationFailed(f"not a ledger head: {exc}") from exc

    @classmethod
    def read(cls, path: Path) -> SignedHead:
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValidationFailed(f"{path}: {exc.strerror}") from exc

    def to_text(self, zone: tzinfo) -> str:
        """A few short lines to copy into the paper ledger (prefixes are enough to compare)."""
        when = from_ms(self.signed_ms).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
        h, s = self.hash_hex, self.signature_hex
        return (
            f"원장 서명 헤드 / ledger head ({self.kind})\n"
            f"seq   {self.seq}\n"
            f"time  {when}\n"
            f"hash  {h[0:8]} {h[8:16]} {h[16:24]} {h[24:32]}\n"
            f"sig   {s[0:8]} {s[8:16]}\n"
            f"key   {self.key_id}\n"
        )


def head_hash(head: SignedHead) -> str:
    """What the next head's ``prev`` names: BLAKE2b-256 of the bytes ``head`` signed, hex."""
    return hashlib.blake2b(head.message(), digest_size=32).hexdigest()


def sign(
    key: SigningKey,
    kind: str,
    seq: int,
    hash_: bytes,
    signed_ms: int,
    prev_hex: str = FIRST_PREV,
) -> SignedHead:
    """A format 2 head chained onto the head whose ``head_hash`` is ``prev_hex``."""
    hash_hex = hash_.hex()
    signature = key.sign(signed_message(kind, seq, hash_hex, signed_ms, prev_hex)).signature
    return SignedHead(
        kind=kind,
        seq=seq,
        hash_hex=hash_hex,
        signed_ms=signed_ms,
        key_id=key_id(bytes(key.verify_key)),
        signature_hex=signature.hex(),
        prev_hex=prev_hex,
    )
