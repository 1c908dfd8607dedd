"""What a viewing session serves: one span per stream, checked against its session.

A span is recorded (committed) before its first byte, after the session, the camera, the range
and the viewer's current role and grants are checked again (R-VIEW-3); it is finished with the
bytes sent when its stream ends. Closing a session summarises its spans in the closing ledger
entry.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, col, select

from appliance.access.audit import record
from appliance.access.grants import granted_cameras
from appliance.access.principal import Principal
from appliance.access.roles import may_view_camera
from appliance.access.sessions import expiry_reason
from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import NotFound, PermissionDenied, ValidationFailed
from appliance.ledger import EventType, Ledger
from appliance.models import Segment, User
from appliance.models.access import LoginSession, ViewingSession, ViewingSpan
from appliance.viewing.scope import ViewKind, media_range

__all__ = [
    "begin_span",
    "close_viewing",
    "mark_first_frame",
    "span_finisher",
    "spans_of",
    "stop_reason",
    "viewing_ref",
]


def begin_span(
    db: Database,
    clock: Clock,
    ledger: Ledger,
    principal: Principal,
    viewing_id: int,
    kind: ViewKind,
    camera_id: str,
    start_ms: int | None,
    end_ms: int | None,
    *,
    on_segments: Callable[[list[Segment], tuple[int, int]], None] | None = None,
) -> tuple[int, tuple[int, int] | None, list[Segment]]:
    """Check a stream against its session and record its span (committed).

    Returns the span id, the media range (playback) and the segments covering it.
    ``on_segments`` is told the segments and the range once every check has passed, before
    the span is written and committed (to start fetching ciphertext meanwhile).
    """
    now = clock.now_ms()
    with db.session() as session:
        viewing = session.get(ViewingSession, viewing_id)
        # Only the session's own viewer streams from it, never anyone else.
        if viewing is None or viewing.user_id != principal.user_id:
            raise NotFound(f"no viewing session {viewing_id}")
        if viewing.ended_ms is not None:
            raise PermissionDenied(f"viewing session {viewing_id} has ended")
        if now >= viewing.expires_ms:
            close_viewing(session, ledger, clock, viewing, "expired", "system")
            expired = True
        else:
            expired = False
    if expired:
        raise PermissionDenied(f"viewing session {viewing_id} has expired")
    with db.session() as session:
        viewing = session.get(ViewingSession, viewing_id)
        assert viewing is not None
        if viewing.kind != kind.value:
            raise ValidationFailed(f"viewing session {viewing_id} is for {viewing.kind}")
        if camera_id not in viewing.camera_ids:
            raise NotFound(f"camera {camera_id!r} is not part of this viewing session")
        # Role and grants are read again: a revocation stops the next stream at once.
        granted = granted_cameras(session, principal.user_id)
        if not may_view_camera(principal.role, granted, camera_id):
            raise PermissionDenied(f"you may no longer view camera {camera_id!r}")
        segments: list[Segment] = []
        span_range: tuple[int, int] | None = None
        if kind is ViewKind.playback:
            assert viewing.start_ms is not None and viewing.end_ms is not None
            span_range = media_range(
                cameras=viewing.camera_ids,
                session_start_ms=viewing.start_ms,
                session_end_ms=viewing.end_ms,
                camera_id=camera_id,
                start_ms=start_ms,
                end_ms=end_ms,
            )
            segments = list(
                session.exec(
                    select(Segment)
                    .where(
                        Segment.camera_id == camera_id,
                        Segment.end_ms > span_range[0],
                        Segment.start_ms < span_range[1],
                        col(Segment.sealed_key).is_not(None),
                    )
                    .order_by(col(Segment.start_ms))
                ).all()
            )
            if not segments:
                raise NotFound(f"no recording of {camera_id} in that range")
            if on_segments is not None:
                on_segments(segments, span_range)
        span = ViewingSpan(
            viewing_id=viewing_id,
            camera_id=camera_id,
            start_ms=span_range[0] if span_range else now,
            end_ms=span_range[1] if span_range else None,
            began_ms=now,
        )
        session.add(span)
        session.flush()
        assert span.id is not None
        return span.id, span_range, segments


def span_finisher(
    db: Database, clock: Clock, viewing_id: int, span_id: int
) -> Callable[[int, str], None]:
    """What a ``MediaStream`` calls when it ends: the span's bytes and outcome, the total."""

    def finish(sent: int, outcome: str) -> None:
        with db.session() as session:
            span = session.get(ViewingSpan, span_id)
            viewing = session.get(ViewingSession, viewing_id)
            if span is None or viewing is None:
                return
            now = clock.now_ms()
            span.finished_ms, span.bytes_sent, span.outcome = now, sent, outcome
            if span.end_ms is None:  # live: the span is how long it was watched
                span.end_ms = now
            viewing.served_bytes += sent
            session.add_all([span, viewing])

    return finish


def stop_reason(
    db: Database,
    clock: Clock,
    viewing_id: int,
    user_id: int,
    camera_id: str,
    *,
    idle_s: int,
    absolute_s: int,
) -> str | None:
    """Why a stream must stop now (its session, user, sign-in or grant no longer holds), or
    None. The stream itself is not activity: a sign-in idle past ``idle_s`` stops it."""
    now = clock.now_ms()
    with db.session() as session:
        viewing = session.get(ViewingSession, viewing_id)
        if viewing is None or viewing.ended_ms is not None:
            return "session ended"
        if now >= viewing.expires_ms:
            return "session expired"
        user = session.get(User, user_id)
        if user is None or user.disabled:
            return "account disabled"
        if viewing.login_session_id is not None:
            # Signing out, a revoked or an idle sign-in stops what it opened.
            login = session.get(LoginSession, viewing.login_session_id)
            if login is None:
                return "signed out"
            ended = expiry_reason(login, now, idle_s, absolute_s)
            if ended is not None:
                return f"sign-in {ended}"
        if not may_view_camera(user.role, granted_cameras(session, user_id), camera_id):
            return "grant revoked"
        return None


def mark_first_frame(db: Database, span_id: int, first_ms: int) -> None:
    """Record where a span really starts: the key frame at or before the asked start (the
    pre-roll a decoder needs is footage shown too), before its first byte is served."""
    with db.session() as session:
        span = session.get(ViewingSpan, span_id)
        if span is not None and span.start_ms != first_ms:
            span.start_ms = first_ms
            session.add(span)


def close_viewing(
    session: Session,
    ledger: Ledger,
    clock: Clock,
    viewing: ViewingSession,
    reason: str,
    actor: str,
) -> None:
    """End ``viewing`` in ``session``; its spans go into the closing ledger entry (last)."""
    now = clock.now_ms()
    viewing.ended_ms = min(now, viewing.expires_ms) if reason == "expired" else now
    viewing.end_reason = reason
    session.add(viewing)
    watched = [_watched(viewing, s) for s in spans_of(session, viewing.id)]
    event = (
        EventType.view_recorded_end
        if viewing.kind == ViewKind.playback.value
        else EventType.view_live_end
    )
    record(
        ledger,
        session,
        event,
        actor=actor,
        data={
            "reason": reason,
            "watched": watched,
            "served_bytes": viewing.served_bytes,
            "duration_ms": viewing.ended_ms - viewing.opened_ms,
        },
        ref=viewing_ref(viewing),
    )


def _watched(viewing: ViewingSession, span: ViewingSpan) -> dict[str, object]:
    """A span in the closing entry; ``from_ms`` is its first frame served, and a pre-roll
    before the session's own range is named (``before_range_ms``)."""
    item: dict[str, object] = {
        "camera": span.camera_id,
        "from_ms": span.start_ms,
        "to_ms": span.end_ms,
        "bytes": span.bytes_sent,
        "outcome": span.outcome or "open",
    }
    if viewing.start_ms is not None and span.start_ms < viewing.start_ms:
        item["before_range_ms"] = viewing.start_ms - span.start_ms
    return item


def viewing_ref(viewing: ViewingSession) -> str:
    """The ``ref`` of a session's ledger entries."""
    return f"view:{viewing.id}"


def spans_of(session: Session, viewing_id: int | None) -> list[ViewingSpan]:
    """A session's spans, in order."""
    return list(
        session.exec(
            select(ViewingSpan)
            .where(ViewingSpan.viewing_id == viewing_id)
            .order_by(col(ViewingSpan.id))
        ).all()
    )
