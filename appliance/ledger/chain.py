"""The hash chain, as pure functions (no I/O): canonical encodings and the entry hash.

An entry's hash is ``BLAKE2b-256(prev_hash || E)`` where ``E`` is the UTF-8 of the JSON array
``[seq, ts_ms, event, actor, camera_id, ref]`` written with no spaces and non-ASCII kept as is
(Python's ``json`` with ``ensure_ascii=False, separators=(",", ":")``; ``camera_id``/``ref`` may
be null), followed directly by the entry's stored canonical data JSON (``canonical_data``). The
array delimits itself, so the concatenation is unambiguous. The first entry's ``prev_hash`` is
``GENESIS`` (32 zero bytes). design/ledger.md has the details an outside verifier needs.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import TypeAlias

from appliance.errors import ValidationFailed

__all__ = [
    "GENESIS",
    "HASH_BYTES",
    "JSONValue",
    "canonical_data",
    "entry_hash",
    "entry_preimage",
]

HASH_BYTES = 32
GENESIS = bytes(HASH_BYTES)

JSONValue: TypeAlias = (
    "str | int | float | bool | Sequence[JSONValue] | Mapping[str, JSONValue] | None"
)

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_ENCODE_DATA = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode


def _plain(value: object, where: str) -> object:
    """The value as plain dicts, lists and scalars; ValidationFailed if it is not JSON."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationFailed(f"ledger data {where}: {value} is not a finite number")
        return value
    if isinstance(value, Mapping):
        plain: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationFailed(f"ledger data {where}: key {key!r} is not a string")
            plain[key] = _plain(item, f"{where}.{key}")
        return plain
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise ValidationFailed(f"ledger data {where}: {type(value).__name__} is not JSON")


def canonical_data(data: Mapping[str, JSONValue]) -> str:
    """The canonical JSON text of an entry's data: sorted keys, no spaces, UTF-8 kept."""
    if not isinstance(data, Mapping):
        raise ValidationFailed("ledger data must be a mapping of str to JSON values")
    return _ENCODE_DATA(_plain(data, "data"))


def entry_preimage(
    seq: int,
    ts_ms: int,
    event: str,
    actor: str,
    camera_id: str | None,
    ref: str | None,
    data: str,
) -> bytes:
    """The bytes hashed (after the previous hash) for one entry."""
    return _ENCODE([seq, ts_ms, event, actor, camera_id, ref]).encode() + data.encode()


def entry_hash(
    prev: bytes,
    seq: int,
    ts_ms: int,
    event: str,
    actor: str,
    camera_id: str | None,
    ref: str | None,
    data: str,
) -> bytes:
    """BLAKE2b-256 of the previous hash followed by the entry's canonical encoding."""
    return hashlib.blake2b(
        prev + entry_preimage(seq, ts_ms, event, actor, camera_id, ref, data),
        digest_size=HASH_BYTES,
    ).digest()
