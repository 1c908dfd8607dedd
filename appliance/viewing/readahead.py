"""What a viewing asks of the object store before the footage is read (issue 19).

Where footage comes from is not the viewing service's business, but when to start fetching
it is: these two calls are the service's hints to a ``SegmentOpener`` that reads from an
object store, both ciphertext only, neither blocking the viewer.

- ``warm_tails``: a playback session has opened; fetch into memory the tails of the first
  ``WARM_SEGMENTS`` segments of its range that live in the store, so a seek into them (the
  viewer's first request, scrubbing) costs one GET instead of two.
- ``open_first_early``: a stream's span has passed its checks; start the first segment's first
  GET while the span commits (``SegmentFiles.open_early``).

On a box without an object store (a ``Path``, or an opener with no store) both do nothing.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from appliance.db import Database
from appliance.media import SegmentSource
from appliance.models.access import ViewingSession
from appliance.models.media import Segment

__all__ = ["WARM_SEGMENTS", "open_first_early", "warm_tails"]

#: Segments whose tails a playback session fetches when it opens (16 KiB each, in memory).
WARM_SEGMENTS = 64


def warm_tails(db: Database, source: SegmentSource, viewing: ViewingSession) -> None:
    if isinstance(source, Path) or not source.remote:
        return  # a box without an object store: nothing to ask the database
    if viewing.start_ms is None or viewing.end_ms is None:
        return
    with db.session() as session:
        segments = session.exec(
            select(Segment)
            .where(
                col(Segment.camera_id).in_(viewing.camera_ids),
                Segment.end_ms > viewing.start_ms,
                Segment.start_ms < viewing.end_ms,
                col(Segment.object_key).is_not(None),
            )
            .order_by(col(Segment.start_ms))
            .limit(WARM_SEGMENTS)
        ).all()
    source.warm_tails(list(segments))


def open_first_early(
    source: SegmentSource, segments: list[Segment], span_range: tuple[int, int]
) -> None:
    if not isinstance(source, Path):
        source.open_early(segments[0], span_range[0])
