"""Freeing local disk without destroying footage: drop the oldest local copies that are safely
in the object store (issue 19).

For a recorder node's free-space floor (the multi-node work calls it before any purge or
alarm): a local copy of an uploaded segment is only a cache of the object, so dropping it
frees space and loses nothing. Oldest first (by end time), this node's files only.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import col, select

from appliance.db import Database
from appliance.models.media import Segment
from appliance.storage.files import SegmentFiles

__all__ = ["drop_uploaded_copies"]

_PAGE = 500


def drop_uploaded_copies(
    db: Database,
    files: SegmentFiles,
    need_bytes: int,
    *,
    cameras: Collection[str] | None = None,
) -> tuple[int, int]:
    """Drop the oldest uploaded local copies on this node until ``need_bytes`` are freed (or
    none is left); ``cameras`` limits it to those cameras. Returns (copies dropped, bytes)."""
    if not files.remote or need_bytes <= 0:
        return 0, 0
    dropped = freed = 0
    after: tuple[int, int] = (-1, -1)  # (end_ms, id) keyset
    while freed < need_bytes:
        with db.session() as session:
            query = (
                select(Segment)
                .where(
                    col(Segment.local_copy),
                    col(Segment.object_key).is_not(None),
                    col(Segment.sealed_key).is_not(None),
                    (col(Segment.end_ms) > after[0])
                    | ((col(Segment.end_ms) == after[0]) & (col(Segment.id) > after[1])),
                )
                .order_by(col(Segment.end_ms), col(Segment.id))
                .limit(_PAGE)
            )
            if cameras is not None:
                query = query.where(col(Segment.camera_id).in_(list(cameras)))
            rows = list(session.exec(query).all())
            if not rows:
                break
            for segment in rows:
                assert segment.id is not None
                after = (segment.end_ms, segment.id)
                if not files.local_path(segment).exists():
                    continue  # another node's
                freed += files.drop_local(session, segment)
                dropped += 1
                if freed >= need_bytes:
                    break
    return dropped, freed
