"""Deleting footage on request (R-REQ-7): the same purge, refused for held or minimum footage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from appliance.errors import Conflict, NotFound, ValidationFailed
from appliance.models import Camera
from appliance.models.media import MAX_SEGMENT_MS
from appliance.retention._tables import SEGMENT, SPAN_COLUMNS
from appliance.retention.cycle import camera_rules
from appliance.retention.destruction import Reason
from appliance.retention.holds import active_holds, get_hold
from appliance.retention.policy import SegmentSpan, under_minimum
from appliance.retention.purge import Purger, PurgeResult

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["MAX_SEGMENT_MS", "DeletionCheck", "check_deletion", "delete_footage", "segments_in"]

#: Longest segment the range queries look back for (the recorder cuts at <= 600 s).


@dataclass
class DeletionCheck:
    """Whether footage in a range may be deleted now, and what stands in the way."""

    segment_ids: list[int] = field(default_factory=list)
    held_by: dict[int, str] = field(default_factory=dict)  # hold id -> reference
    under_minimum: dict[str, int] = field(default_factory=dict)  # camera -> protected until
    unknown_group: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not (self.held_by or self.under_minimum or self.unknown_group)

    def refusal(self) -> str:
        parts = []
        if self.held_by:
            refs = ", ".join(f"#{i} ({ref or 'no reference'})" for i, ref in self.held_by.items())
            parts.append(f"footage is held by hold {refs}")
        if self.under_minimum:
            cams = ", ".join(sorted(self.under_minimum))
            parts.append(f"footage of {cams} is within its group's legal minimum retention")
        if self.unknown_group:
            parts.append(f"cameras without a configured group: {', '.join(self.unknown_group)}")
        return "; ".join(parts)


def segments_in(
    session: Session, camera_ids: Sequence[str], start_ms: int, end_ms: int
) -> list[SegmentSpan]:
    """Segments of ``camera_ids`` overlapping [start_ms, end_ms], by camera and time."""
    rows = session.execute(
        sa_select(*SPAN_COLUMNS)
        .where(
            SEGMENT.c.camera_id.in_(list(camera_ids)),
            SEGMENT.c.start_ms <= end_ms,
            SEGMENT.c.start_ms >= start_ms - MAX_SEGMENT_MS,
            SEGMENT.c.end_ms >= start_ms,
        )
        .order_by(SEGMENT.c.camera_id, SEGMENT.c.start_ms)
    ).all()
    return [SegmentSpan(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]


def check_deletion(
    ctx: AppContext, session: Session, camera_ids: Sequence[str], start_ms: int, end_ms: int
) -> DeletionCheck:
    """What deleting the footage of ``camera_ids`` in [start_ms, end_ms] would meet."""
    if end_ms < start_ms:
        raise ValidationFailed("the range ends before it starts")
    cameras = sorted(set(camera_ids))
    known = set(session.exec(select(Camera.id).where(col(Camera.id).in_(cameras))).all())
    if missing := [c for c in cameras if c not in known]:
        raise NotFound(f"unknown camera(s): {', '.join(missing)}")
    rules, unknown = camera_rules(session, ctx)
    holds = active_holds(session)
    now = ctx.clock.now_ms()
    check = DeletionCheck(unknown_group=sorted(c for c in cameras if c in unknown))
    references = {h.hold_id: "" for h in holds}

    for span in segments_in(session, cameras, start_ms, end_ms):
        check.segment_ids.append(span.id)
        for hold in holds:
            if hold.covers(span):
                if not references[hold.hold_id]:
                    references[hold.hold_id] = get_hold(session, hold.hold_id).hold.reference
                check.held_by[hold.hold_id] = references[hold.hold_id]
        rule = rules.get(span.camera_id)
        if rule is not None and under_minimum(span, rule, now):
            until = span.end_ms + rule.min_ms
            check.under_minimum[span.camera_id] = max(
                until, check.under_minimum.get(span.camera_id, 0)
            )
    return check


def delete_footage(
    ctx: AppContext,
    camera_ids: Sequence[str],
    start_ms: int,
    end_ms: int,
    *,
    actor: str,
    reason: Reason = Reason.deletion_request,
    note: str = "",
) -> PurgeResult:
    """Destroy the segments of ``camera_ids`` overlapping [start_ms, end_ms].

    Whole segments go (a segment holds footage of the range). Raises Conflict, destroying
    nothing, when any of it is held or within its group's minimum (R-RET-2, R-RET-3).
    The result's ``record_ids`` are the destruction records to cite.
    """
    with ctx.db.session() as session:
        check = check_deletion(ctx, session, camera_ids, start_ms, end_ms)
        rules, _ = camera_rules(session, ctx)
    if not check.allowed:
        raise Conflict(f"deletion refused: {check.refusal()}")
    return Purger(ctx).purge(check.segment_ids, reason=reason, actor=actor, rules=rules, note=note)
