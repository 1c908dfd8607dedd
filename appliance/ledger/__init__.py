"""The tamper-evident ledger: every access and lifecycle event, hash-chained, with signed heads.

Use::

    seq = ctx.ledger.append(EventType.view_live_start, actor=user.username,
                            data={"purpose": "...", "cameras": ["cam01"]}, ref=session_id)
    # in a domain transaction (change and entry commit or fail together):
    with ctx.db.session() as session:
        ...                                   # the domain change
        ctx.ledger.append(EventType.purge, actor="retention", camera_id="cam01",
                          data={...}, session=session)   # last, just before commit

``append`` raises ``appliance.errors.LedgerUnavailable`` when the entry cannot be written; the
guarded operation must then not happen (invariant 5). design/ledger.md has the data keys each
event carries, the hash encoding, and how verification works.
"""

from __future__ import annotations

from appliance.ledger.chain import GENESIS, JSONValue, canonical_data, entry_hash
from appliance.ledger.cut import CutResult
from appliance.ledger.events import EventType
from appliance.ledger.heads import HeadKind, SignedHead
from appliance.ledger.rows import NewEntry
from appliance.ledger.store import Entry, Ledger, Tip
from appliance.ledger.verify import VerifyReport

__all__ = [
    "GENESIS",
    "CutResult",
    "Entry",
    "EventType",
    "HeadKind",
    "JSONValue",
    "Ledger",
    "NewEntry",
    "SignedHead",
    "Tip",
    "VerifyReport",
    "canonical_data",
    "entry_hash",
]
