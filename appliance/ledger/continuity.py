"""The chain of signed heads and its continuity in time: pure checks behind ``Ledger.verify``.

Every format 2 head names the ``head_hash`` of the head stored before it, so a head deleted
from the middle (or rows reordered) breaks the chain of heads. The heads after the latest
retention checkpoint form the checked chain; heads that a cut removed legitimately lie before
it. Continuity: the ``ledger`` daemon signs a head at least every ``ledger.head_interval_s``
while ``appliance run`` runs, so a longer gap between two heads, or a latest head older than
that, means heads were deleted or the signer stopped. A gap across a restart (a
``system_start`` entry between the two heads) is downtime, or a vault locked after the start
(the signing key opens with the first unlock, design/keys.md): a note, not a failure. A stale
latest head after a restart with no unlock since is reported as ``unsigned``, not as tampering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from appliance.clock import from_ms
from appliance.ledger.events import EventType
from appliance.ledger.heads import HeadKind, SignedHead, head_hash
from appliance.ledger.verify import Failure, Watched

__all__ = ["WATCH", "Continuity", "Problem", "check_continuity", "head_chain"]

WATCH = frozenset(
    {
        EventType.system_start.value,
        EventType.vault_unlocked.value,
        EventType.backup_restored.value,
    }
)
#: Entries that explain a gap in the heads: a start, or a restore from a backup (the box was
#: down, and its heads after the backup went with the lost database).
RESTARTS = frozenset({EventType.system_start.value, EventType.backup_restored.value})
SLACK_MS = 60_000  # a round that runs late (a daily cut, a busy disk) is not a gap


@dataclass(frozen=True)
class Continuity:
    """Check continuity at ``now_ms``, allowing gaps up to 2 intervals plus a minute."""

    now_ms: int
    head_interval_s: int

    @property
    def limit_ms(self) -> int:
        return 2 * self.head_interval_s * 1000 + SLACK_MS


@dataclass(frozen=True)
class Problem:
    """A failed check: its kind, the first bad entry if there is one, and what is wrong."""

    failure: Failure
    seq: int | None
    text: str


def _when(ms: int) -> str:
    return from_ms(ms).strftime("%Y-%m-%d %H:%M:%S UTC")


def _label(head_id: int, head: SignedHead) -> str:
    return f"{head.kind} #{head_id} (seq {head.seq}, signed {_when(head.signed_ms)})"


def head_chain(
    stored: Sequence[tuple[int, SignedHead]], checkpoint_id: int | None, start_seq: int
) -> tuple[list[tuple[int, SignedHead]], Problem | None]:
    """The checked chain of heads (``stored`` in id order) and the first broken link in it.

    The chain starts at the checkpoint verification starts from (``checkpoint_id``) or at the
    first plain head it kept (seq at or after ``start_seq``), whichever was stored first; a cut
    deletes only plain heads below its seq, so nothing after that start may be missing.
    """
    begin = 0
    if checkpoint_id is not None:
        begin = next(
            i
            for i, (head_id, head) in enumerate(stored)
            if head_id == checkpoint_id or (head.kind == HeadKind.head and head.seq >= start_seq)
        )
    chain = list(stored[begin:])
    chained = False  # a format 2 head was met: no format 1 head may follow
    for (prev_id, prev), (head_id, head) in pairwise(chain):
        if head.prev_hex is None:
            if chained:
                return chain, Problem(
                    Failure.head_chain,
                    None,
                    f"{_label(head_id, head)} is in the old format after a chained head",
                )
            continue
        chained = True
        if head.prev_hex != head_hash(prev):
            return chain, Problem(
                Failure.head_chain,
                None,
                f"{_label(head_id, head)} does not follow {_label(prev_id, prev)}: "
                "a head between them was deleted, or the heads were reordered",
            )
    return chain, None


def check_continuity(
    chain: Sequence[tuple[int, SignedHead]],
    watched: Sequence[Watched],
    rule: Continuity,
    start_seq: int,
) -> tuple[Problem | None, list[str]]:
    """The first continuity problem of ``chain`` (None) and notes on gaps explained by restarts.

    Heads are expected only where the ledger shows that ``appliance run`` ran: a
    ``system_start`` entry, or a retention cut (only a ledger that old has had one).
    """
    starts = [w for w in watched if w.event in RESTARTS]
    unlocks = [w for w in watched if w.event == EventType.vault_unlocked]
    if not starts and start_seq == 0:
        return None, [
            "the appliance has never run on this ledger (no system_start entry): heads are "
            "signed on demand only, continuity not checked"
        ]
    limit = rule.limit_ms
    notes: list[str] = []
    for (a_id, a), (b_id, b) in pairwise(chain):
        if b.prev_hex is None or b.signed_ms - a.signed_ms <= limit:
            continue  # format 1 heads were signed only when the chain moved: no heartbeat
        gap_min = (b.signed_ms - a.signed_ms) // 60_000
        restart = next((w for w in starts if a.seq < w.seq <= b.seq), None)
        if restart is None:
            return Problem(
                Failure.continuity,
                None,
                f"no signed head for {gap_min} min between {_label(a_id, a)} and "
                f"{_label(b_id, b)} (at most {limit // 1000} s expected) and no restart between "
                "them: heads were deleted, or the signer stopped",
            ), notes
        notes.append(
            f"no heads for {gap_min} min from {_when(a.signed_ms)} to {_when(b.signed_ms)}: "
            f"the appliance restarted (system_start, seq {restart.seq}, {_when(restart.ts_ms)})"
        )
    latest = chain[-1] if chain else None
    if latest is not None and rule.now_ms - latest[1].signed_ms <= limit:
        return None, notes
    after = latest[1].seq if latest is not None else start_seq
    since = [w for w in starts if w.seq > after]
    what = (
        "no signed head at all"
        if latest is None
        else f"the latest signed head, {_label(*latest)}, is "
        f"{(rule.now_ms - latest[1].signed_ms) // 60_000} min old"
    )
    explained = bool(since) and (latest is not None or len(starts) == 1)
    if explained:
        restart = since[-1]
        late = [u for u in unlocks if u.seq > restart.seq and rule.now_ms - u.ts_ms > limit]
        if not late:
            return Problem(
                Failure.unsigned,
                None,
                f"{what}; the appliance started at {_when(restart.ts_ms)} (seq {restart.seq}) "
                "and the vault has not been unlocked since, so nothing was signed: run "
                "`appliance unlock` (if the appliance did not restart then, heads were deleted)",
            ), notes
        return Problem(
            Failure.continuity,
            None,
            f"{what}, though the vault was unlocked at {_when(late[0].ts_ms)} after the start "
            f"at {_when(restart.ts_ms)}: heads were deleted, or the signer stopped",
        ), notes
    return Problem(
        Failure.continuity,
        None,
        f"{what} (at most {limit // 1000} s expected while the appliance runs): heads were "
        "deleted, or the signer stopped",
    ), notes
