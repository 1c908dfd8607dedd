"""Core ``Table`` objects of the models, for typed SQLAlchemy Core queries (wide selects)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from appliance.models import Hold, HoldCamera, PurgeItem, PurgeJob, Segment

__all__ = [
    "HOLD",
    "HOLD_CAMERA",
    "PURGED_TABLES",
    "PURGE_ITEM",
    "PURGE_JOB",
    "SEGMENT",
    "SPAN_COLUMNS",
]

SEGMENT = cast(Table, Segment.__table__)  # type: ignore[attr-defined]
HOLD = cast(Table, Hold.__table__)  # type: ignore[attr-defined]
HOLD_CAMERA = cast(Table, HoldCamera.__table__)  # type: ignore[attr-defined]
PURGE_ITEM = cast(Table, PurgeItem.__table__)  # type: ignore[attr-defined]
PURGE_JOB = cast(Table, PurgeJob.__table__)  # type: ignore[attr-defined]

#: What ``SegmentSpan`` is built from, in its field order.
SPAN_COLUMNS = (
    SEGMENT.c.id,
    SEGMENT.c.camera_id,
    SEGMENT.c.start_ms,
    SEGMENT.c.end_ms,
    SEGMENT.c.size_bytes,
)

#: The tables a purge deletes from: their files keep the deleted rows' bytes (the sealed keys,
#: in ``segment``) until ``Database.scrub_remnants`` reclaims them.
PURGED_TABLES = (SEGMENT.name, PURGE_ITEM.name, PURGE_JOB.name)
