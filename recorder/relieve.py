"""The first relief of the recorder's disk floor (``recorder.diskguard``): drop this node's
local copies of segments already in the object store, oldest first.

Only a copy that also lives in the object store goes (``SegmentFiles.drop_local`` refuses any
other), so nothing is lost: playback reads the object (through the bounded cache). With a local
directory only, nothing is dropped and the guard pauses recording instead.
"""

from __future__ import annotations

from sqlmodel import col, select

from appliance.db import Database
from appliance.models.media import Segment
from appliance.storage import SegmentFiles

__all__ = ["drop_uploaded_copies"]

_PAGE = 200


def drop_uploaded_copies(db: Database, files: SegmentFiles, deficit_bytes: int) -> int:
    """Drop uploaded local copies found on this node's disk until ``deficit_bytes`` are freed
    (or none is left); returns the bytes freed."""
    if not files.remote:
        return 0
    freed, after = 0, 0
    while freed < deficit_bytes:
        with db.session() as session:
            rows = list(
                session.exec(
                    select(Segment)
                    .where(
                        col(Segment.object_key).is_not(None),
                        col(Segment.local_copy),
                        col(Segment.start_ms) >= after,
                    )
                    .order_by(col(Segment.start_ms), col(Segment.id))
                    .limit(_PAGE)
                ).all()
            )
            if not rows:
                return freed
            for segment in rows:
                if files.local_path(segment).exists():
                    freed += files.drop_local(session, segment)
                    if freed >= deficit_bytes:
                        return freed
        if after == rows[-1].start_ms + 1:
            return freed
        after = rows[-1].start_ms + 1
    return freed
