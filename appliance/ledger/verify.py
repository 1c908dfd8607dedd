"""Walking the chain: the pure check behind ``Ledger.verify`` and ``Ledger.cut``, and its report.

Rows come in batches of tuples ``(seq, ts_ms, event, actor, camera_id, ref, data, hash)`` in
seq order; no ORM objects, since the target is 200,000 entries/s. The walk also collects the
entries of the ``watch`` events (system starts and vault unlocks, for the continuity check).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from appliance.errors import LedgerTampered
from appliance.ledger.chain import HASH_BYTES

__all__ = ["ChainWalk", "Failure", "VerifyReport", "Watched", "walk_chain"]

Row = Sequence[Any]

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Failure(StrEnum):
    """What kind of check failed (``VerifyReport.failure``)."""

    chain = "chain"  # an entry, the tip, or a head's hash at its seq does not match
    signature = "signature"  # a stored or given head is not signed by the verify key
    head_chain = "head_chain"  # a head is missing from the chain of heads (deleted, reordered)
    continuity = "continuity"  # no head for longer than the interval allows (heads deleted?)
    unsigned = "unsigned"  # nothing signed since a restart: the vault was not unlocked since
    heads_file = "heads_file"  # a head in the heads file is missing from the database, or differs
    key = "key"  # the verify key is not the pinned one


@dataclass(frozen=True, slots=True)
class Watched:
    """An entry of a watched event type met during the walk."""

    seq: int
    ts_ms: int
    event: str


@dataclass(frozen=True)
class ChainWalk:
    """What walking a run of entries found; ``problem`` is None when every entry matched."""

    count: int
    last_seq: int
    last_hash: bytes
    first_bad_seq: int | None = None
    problem: str | None = None
    anchors_matched: int = 0
    watched: tuple[Watched, ...] = ()


def walk_chain(
    batches: Iterable[Sequence[Row]],
    start_seq: int,
    start_hash: bytes,
    anchors: Mapping[int, Sequence[tuple[str, bytes]]] | None = None,
    watch: frozenset[str] = frozenset(),
) -> ChainWalk:
    """Recompute every hash from ``start_hash``; stop at the first entry that does not match.

    ``anchors`` maps a seq to (label, expected hash or hash prefix) pairs, e.g. signed heads; a
    mismatch there means the chain was rewritten consistently (hashes recomputed) up to that seq.
    Entries whose event is in ``watch`` are returned in ``watched``.
    """
    anchors = anchors or {}
    seen: list[Watched] = []
    blake2b = hashlib.blake2b
    encode = _ENCODE
    expected = start_seq + 1
    prev = start_hash
    matched = 0
    count = 0
    for batch in batches:
        for seq, ts_ms, event, actor, camera_id, ref, data, stored in batch:
            if seq != expected:
                return ChainWalk(
                    count,
                    expected - 1,
                    prev,
                    expected,
                    f"entry {expected} is missing (the next entry is {seq})",
                    matched,
                    tuple(seen),
                )
            # chain.entry_hash, inlined: this loop is the verification speed.
            digest = blake2b(
                prev + encode([seq, ts_ms, event, actor, camera_id, ref]).encode() + data.encode(),
                digest_size=HASH_BYTES,
            ).digest()
            if digest != stored:
                return ChainWalk(
                    count,
                    expected - 1,
                    prev,
                    seq,
                    f"entry {seq} does not match its hash: it was modified, inserted or moved",
                    matched,
                    tuple(seen),
                )
            if event in watch:
                seen.append(Watched(seq, ts_ms, event))
            if seq in anchors:
                for label, want in anchors[seq]:
                    if digest[: len(want)] != want:  # a paper record holds a prefix
                        return ChainWalk(
                            count,
                            expected - 1,
                            prev,
                            seq,
                            f"entry {seq} does not match {label}: entries up to {seq} "
                            "were rewritten",
                            matched,
                            tuple(seen),
                        )
                    matched += 1
            prev = digest
            expected += 1
            count += 1
    return ChainWalk(count, expected - 1, prev, None, None, matched, tuple(seen))


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of ``Ledger.verify``: ``ok``, or the first bad seq and what is wrong."""

    ok: bool
    entries_checked: int
    start_seq: int  # 0, or the retention checkpoint verification started from
    last_seq: int
    last_hash_hex: str
    heads_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    failure: Failure | None = None  # set when not ok: which kind of check failed

    def raise_if_bad(self) -> None:
        """Raise LedgerTampered (carrying the first bad seq) unless the ledger verified."""
        if not self.ok:
            raise LedgerTampered(self.summary(), self.first_bad_seq)

    def summary(self) -> str:
        if self.ok:
            return (
                f"ledger verified: entries {self.start_seq + 1}..{self.last_seq} "
                f"({self.entries_checked} checked), {self.heads_checked} signed heads match"
            )
        where = "" if self.first_bad_seq is None else f"first bad entry {self.first_bad_seq}: "
        kind = f" [{self.failure}]" if self.failure is not None else ""
        if self.failure is Failure.unsigned:  # a locked vault since a restart, not tampering
            return f"ledger NOT SIGNED since a restart: {self.problem}{kind}"
        return f"ledger TAMPERED: {where}{self.problem}{kind}"
