"""Signed heads: an ed25519 signature over (kind, seq, hash, signed time), for witnessing.

A head exported to a file (or copied onto paper) fixes the chain up to its ``seq``: any later
change to entries up to ``seq``, or a truncation below it, no longer matches it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from appliance.clock import from_ms
from appliance.errors import ValidationFailed

__all__ = ["FORMAT", "HeadKind", "SignedHead", "key_id", "sign", "signed_message"]

FORMAT = "clinic-cctv-ledger-head/1"


class HeadKind:
    """Values of ``SignedHead.kind``."""

    head = "head"  # periodic, on stop, or on demand (exported for witnessing)
    checkpoint = "checkpoint"  # a retention cut: verification starts here


def key_id(verify_key: bytes) -> str:
    """Short id of a verify key: its first 16 hex digits."""
    return verify_key.hex()[:16]


def signed_message(kind: str, seq: int, hash_hex: str, signed_ms: int) -> bytes:
    """The exact bytes signed."""
    body = json.dumps(
        {"format": FORMAT, "hash": hash_hex, "kind": kind, "seq": seq, "signed_ms": signed_ms},
        sort_keys=True,
        separators=(",", ":"),
    )
    return body.encode()


@dataclass(frozen=True)
class SignedHead:
    """The chain's state at ``seq`` (hash of entry ``seq``), signed at ``signed_ms``."""

    kind: str
    seq: int
    hash_hex: str
    signed_ms: int
    key_id: str
    signature_hex: str

    def check_signature(self, verify_key: bytes) -> bool:
        """True when this head was signed by ``verify_key``."""
        if key_id(verify_key) != self.key_id:
            return False
        try:
            VerifyKey(verify_key).verify(
                signed_message(self.kind, self.seq, self.hash_hex, self.signed_ms),
                bytes.fromhex(self.signature_hex),
            )
        except (BadSignatureError, ValueError):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "seq": self.seq,
            "hash": self.hash_hex,
            "signed_ms": self.signed_ms,
            "key_id": self.key_id,
            "signature": self.signature_hex,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SignedHead:
        """Parse an exported head; raise ValidationFailed if it is not one."""
        try:
            raw = json.loads(text)
            if raw.get("format") != FORMAT:
                raise ValueError(f"format is {raw.get('format')!r}, expected {FORMAT!r}")
            return cls(
                kind=str(raw["kind"]),
                seq=int(raw["seq"]),
                hash_hex=str(raw["hash"]),
                signed_ms=int(raw["signed_ms"]),
                key_id=str(raw["key_id"]),
                signature_hex=str(raw["signature"]),
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


def sign(key: SigningKey, kind: str, seq: int, hash_: bytes, signed_ms: int) -> SignedHead:
    hash_hex = hash_.hex()
    signature = key.sign(signed_message(kind, seq, hash_hex, signed_ms)).signature
    return SignedHead(
        kind=kind,
        seq=seq,
        hash_hex=hash_hex,
        signed_ms=signed_ms,
        key_id=key_id(bytes(key.verify_key)),
        signature_hex=signature.hex(),
    )
