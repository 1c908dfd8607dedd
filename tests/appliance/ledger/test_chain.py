"""The pure parts: canonical encoding, entry hash, chain walk, signed heads."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from types import MappingProxyType

import pytest
from nacl.signing import SigningKey

from appliance.errors import LedgerTampered, ValidationFailed
from appliance.ledger import GENESIS, SignedHead, canonical_data, entry_hash
from appliance.ledger.heads import HeadKind, sign
from appliance.ledger.verify import walk_chain


def _chain(n: int) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        data = canonical_data({"i": seq, "purpose": "점검"})
        digest = entry_hash(prev, seq, 1000 + seq, "logout", "kim", None, None, data)
        rows.append((seq, 1000 + seq, "logout", "kim", None, None, data, digest))
        prev = digest
    return rows


def test_canonical_data_is_sorted_compact_and_keeps_korean() -> None:
    text = canonical_data(MappingProxyType({"b": [1, 2.5], "a": {"y": None, "x": "열람"}}))
    assert text == '{"a":{"x":"열람","y":null},"b":[1,2.5]}'


@pytest.mark.parametrize(
    "bad", [{"x": float("nan")}, {"x": b"bytes"}, {"x": {1: "int key"}}, {"x": object()}]
)
def test_non_json_data_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed, match=r"ledger data data\.x: .* is not"):
        canonical_data(bad)  # type: ignore[arg-type]


def test_entry_hash_is_blake2b_of_prev_and_json_array() -> None:
    # The documented encoding (design/ledger.md), recomputed independently.
    pre = json.dumps(
        [7, 123, "purge", "retention", "cam01", None], ensure_ascii=False, separators=(",", ":")
    ).encode()
    pre += b'{"n":1}'
    assert pre == b'[7,123,"purge","retention","cam01",null]{"n":1}'
    want = hashlib.blake2b(GENESIS + pre, digest_size=32).digest()
    assert entry_hash(GENESIS, 7, 123, "purge", "retention", "cam01", None, '{"n":1}') == want


def test_fields_are_not_ambiguous() -> None:
    # Moving text between adjacent fields, or into the data, must change the hash.
    a = entry_hash(GENESIS, 1, 1, "logout", "ab", "c", None, "{}")
    b = entry_hash(GENESIS, 1, 1, "logout", "a", "bc", None, "{}")
    c = entry_hash(GENESIS, 1, 1, "logout", "a", "bc", "]", "{}")
    d = entry_hash(GENESIS, 1, 1, "logout", "a", "bc", None, "]{}")
    assert len({a, b, c, d}) == 4


def test_walk_accepts_an_intact_chain_and_names_the_first_bad_entry() -> None:
    rows = _chain(10)
    good = walk_chain([rows[:4], rows[4:]], 0, GENESIS)
    assert good.problem is None and good.count == 10 and good.last_hash == rows[-1][7]

    edited = list(rows)
    edited[5] = (*rows[5][:3], "lee", *rows[5][4:])
    assert walk_chain([edited], 0, GENESIS).first_bad_seq == 6

    missing = rows[:3] + rows[4:]
    walk = walk_chain([missing], 0, GENESIS)
    assert walk.first_bad_seq == 4 and "missing" in (walk.problem or "")

    swapped = list(rows)
    swapped[2], swapped[3] = rows[3], rows[2]
    assert walk_chain([swapped], 0, GENESIS).first_bad_seq == 3


def test_walk_checks_anchors() -> None:
    rows = _chain(5)
    anchors = {3: [("head", b"\x01" * 32)]}
    walk = walk_chain([rows], 0, GENESIS, anchors)
    assert walk.first_bad_seq == 3 and "head" in (walk.problem or "")


def test_signed_head_round_trip_and_forgery() -> None:
    key = SigningKey.generate()
    head = sign(key, HeadKind.head, 42, b"\xab" * 32, 1_767_225_600_000)
    verify_key = bytes(key.verify_key)
    assert head.check_signature(verify_key)
    again = SignedHead.from_json(head.to_json())
    assert again == head and again.check_signature(verify_key)
    forged = SignedHead.from_json(head.to_json().replace('"seq": 42', '"seq": 43'))
    assert not forged.check_signature(verify_key)
    other = SigningKey.generate()
    assert not head.check_signature(bytes(other.verify_key))
    text = head.to_text(UTC)
    assert "seq   42" in text and "abababab" in text and head.key_id in text
    with pytest.raises(ValidationFailed, match="not a ledger head: format"):
        SignedHead.from_json('{"format": "something else"}')


def test_report_raises_with_seq() -> None:
    from appliance.ledger import VerifyReport

    report = VerifyReport(False, 3, 0, 3, "00", 0, first_bad_seq=4, problem="entry 4 is missing")
    with pytest.raises(LedgerTampered) as info:
        report.raise_if_bad()
    assert info.value.seq == 4
