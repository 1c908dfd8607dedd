"""Purpose-bound viewing sessions: opened with a ledger entry, streamed, ended with another.

Invariant 5: ``open`` writes the viewing session and its ledger entry in one transaction and
commits before any footage can be asked for; if the ledger cannot be written the session does
not exist and nothing is served. Each stream then stays inside its session (R-VIEW-3): its
cameras, its time range, its owner, until it ends or expires. What was actually served (one
span per stream, with bytes sent) is kept and summarised in the closing ledger entry.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlmodel import Session, col, select

from appliance.access.audit import record
from appliance.access.grants import granted_cameras
from appliance.access.principal import Principal
from appliance.access.roles import Permission, may_view_camera
from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import (
    ApplianceError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    VaultLocked,
)
from appliance.ledger import EventType, Ledger
from appliance.media import build_fmp4
from appliance.models import Camera, Segment, User
from appliance.models.access import LoginSession, ViewingSession, ViewingSpan
from appliance.settings import Settings
from appliance.viewing.frames import samples_in_range
from appliance.viewing.live import LiveHub, live_fmp4
from appliance.viewing.purpose import Purpose
from appliance.viewing.scope import ViewKind, check_open, media_range
from appliance.viewing.transcode import transcode_to_h264

__all__ = ["FootageKeys", "MediaStream", "ViewingService"]

MP4 = "video/mp4"
_BROWSER_CODECS = frozenset({"h264"})  # what Debian's Chromium plays (architecture.md)
_LIVE_CHECK_S = 2.0  # how often a live stream re-reads whether its session is still open


class FootageKeys(Protocol):
    """The unlocked vault (``appliance.vault.Vault``)."""

    @property
    def is_unlocked(self) -> bool: ...

    def open_segment_key(self, vault_key_id: str, sealed_key: bytes) -> bytes: ...


class MediaStream:
    """A primed stream of MP4 bytes; its span row is finished when it ends or is closed.

    The first chunk is produced before the HTTP response starts, so a refusal (no footage,
    locked vault) is still a 4xx; after that the bytes only flow. ``close`` (from any thread)
    stops it and records how much was sent.
    """

    def __init__(
        self,
        chunks: Iterator[bytes],
        finish: Callable[[int, str], None],
        *,
        span_id: int,
        codec: str,
        transcoded: bool,
    ) -> None:
        self.span_id = span_id
        self.codec = codec
        self.transcoded = transcoded
        self.content_type = MP4
        self._chunks = chunks
        self._finish = finish
        self._sent = 0
        self._done = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        try:
            self._first = next(chunks, b"")
        except BaseException:
            self._close_chunks()
            self._end("refused")
            raise
        self._gen: Generator[bytes, None, None] = self._iterate()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def __iter__(self) -> Iterator[bytes]:
        return self._gen

    def _iterate(self) -> Generator[bytes, None, None]:
        outcome = "disconnected"
        try:
            if self._first:
                self._sent += len(self._first)
                yield self._first
            for chunk in self._chunks:
                if self._stop.is_set():
                    return
                self._sent += len(chunk)
                yield chunk
            outcome = "complete"
        except ApplianceError as exc:
            outcome = f"error: {type(exc).__name__}"
        finally:
            self._close_chunks()
            self._end(outcome)

    def stop(self) -> None:
        """Ask the stream to end at its next chunk (thread-safe, never blocks)."""
        self._stop.set()

    def close(self, wait_s: float = 5.0) -> None:
        """Stop and finish now; waits (up to ``wait_s``) for a chunk being made elsewhere."""
        self._stop.set()
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self._gen.close()
                break
            except ValueError:  # the generator is running in another thread right now
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
        self._close_chunks()
        self._end("disconnected")

    def _close_chunks(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            with contextlib.suppress(ValueError):
                close()

    def _end(self, outcome: str) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        self._finish(self._sent, outcome)


@dataclass(frozen=True)
class _Opened:
    viewing: ViewingSession
    span_id: int


class ViewingService:
    """Opens, serves and closes viewing sessions for one process."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        ledger: Ledger,
        keys: FootageKeys,
        live: LiveHub,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.ledger = ledger
        self.keys = keys
        self.live = live

    @property
    def segments_dir(self) -> Path:
        return self.settings.segments_dir

    # -- sessions -------------------------------------------------------------------------

    def open(
        self,
        principal: Principal,
        *,
        kind: ViewKind,
        cameras: Sequence[str],
        purpose: Purpose,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> ViewingSession:
        """Open a session; its ledger entry commits with it or neither exists (fail closed)."""
        self.close_expired()
        now = self.clock.now_ms()
        server = self.settings.server
        if kind is ViewKind.playback and not self.keys.is_unlocked:
            raise VaultLocked("the vault is locked: recorded footage cannot be viewed")
        with self.db.session() as session:
            known = session.exec(select(Camera.id)).all()
            chosen = check_open(
                role=principal.role,
                granted=granted_cameras(session, principal.user_id),
                known_cameras=known,
                kind=kind,
                cameras=cameras,
                start_ms=start_ms,
                end_ms=end_ms,
                now_ms=now,
                max_range_s=server.viewing_max_range_s,
            )
            viewing = ViewingSession(
                user_id=principal.user_id,
                login_session_id=principal.session_id,
                kind=kind.value,
                camera_ids=chosen,
                start_ms=start_ms,
                end_ms=end_ms,
                purpose_category=purpose.category.value,
                purpose_text=purpose.text,
                request_ref=purpose.request_id,
                opened_ms=now,
                expires_ms=now + server.viewing_max_s * 1000,
            )
            session.add(viewing)
            session.flush()
            data: dict[str, Any] = {
                "purpose": purpose.describe(),
                "purpose_category": purpose.category.value,
                "cameras": chosen,
                "viewer": principal.username,
                "form": "on-screen viewing",
            }
            if purpose.request_id:
                data["request_id"] = purpose.request_id
            if kind is ViewKind.playback:
                data.update(from_ms=start_ms, to_ms=end_ms, masking=False)
            event = (
                EventType.view_recorded_start
                if kind is ViewKind.playback
                else EventType.view_live_start
            )
            # Last statement of the transaction: the entry and the session commit together.
            record(
                self.ledger,
                session,
                event,
                actor=principal.actor,
                data=data,
                camera_id=chosen[0] if len(chosen) == 1 else None,
                ref=_ref(viewing),
            )
        return viewing

    def get(self, principal: Principal, viewing_id: int) -> ViewingSession:
        with self.db.session() as session:
            return self._visible(session, principal, viewing_id)

    def list_sessions(
        self, principal: Principal, *, open_only: bool = True
    ) -> list[ViewingSession]:
        """One's own sessions; the video officer sees everyone's (supervision)."""
        self.close_expired()
        query = select(ViewingSession).order_by(col(ViewingSession.id).desc()).limit(200)
        if not principal.can(Permission.view_any_camera):
            query = query.where(ViewingSession.user_id == principal.user_id)
        if open_only:
            query = query.where(col(ViewingSession.ended_ms).is_(None))
        with self.db.session() as session:
            return list(session.exec(query).all())

    def spans(self, principal: Principal, viewing_id: int) -> list[ViewingSpan]:
        with self.db.session() as session:
            self._visible(session, principal, viewing_id)
            return _spans(session, viewing_id)

    def end(self, principal: Principal, viewing_id: int, reason: str = "closed") -> ViewingSession:
        """Close a session: what was watched goes into its closing ledger entry."""
        with self.db.session() as session:
            viewing = self._visible(session, principal, viewing_id)
            if viewing.user_id != principal.user_id and not principal.can(
                Permission.view_any_camera
            ):
                raise PermissionDenied("only its viewer or the video officer ends a session")
            if viewing.ended_ms is not None:
                return viewing
            self._close(session, viewing, reason, principal.actor)
            return viewing

    def close_expired(self) -> int:
        """End every session past its expiry (with its ledger entry); returns how many."""
        now = self.clock.now_ms()
        with self.db.session() as session:
            stale = session.exec(
                select(ViewingSession).where(
                    col(ViewingSession.ended_ms).is_(None), ViewingSession.expires_ms <= now
                )
            ).all()
            for viewing in stale:
                self._close(session, viewing, "expired", "system")
            return len(stale)

    def _close(self, session: Session, viewing: ViewingSession, reason: str, actor: str) -> None:
        now = self.clock.now_ms()
        viewing.ended_ms = min(now, viewing.expires_ms) if reason == "expired" else now
        viewing.end_reason = reason
        session.add(viewing)
        watched = [
            {
                "camera": s.camera_id,
                "from_ms": s.start_ms,
                "to_ms": s.end_ms,
                "bytes": s.bytes_sent,
                "outcome": s.outcome or "open",
            }
            for s in _spans(session, viewing.id)
        ]
        event = (
            EventType.view_recorded_end
            if viewing.kind == ViewKind.playback.value
            else EventType.view_live_end
        )
        record(
            self.ledger,
            session,
            event,
            actor=actor,
            data={
                "reason": reason,
                "watched": watched,
                "served_bytes": viewing.served_bytes,
                "duration_ms": viewing.ended_ms - viewing.opened_ms,
            },
            ref=_ref(viewing),
        )

    def _visible(self, session: Session, principal: Principal, viewing_id: int) -> ViewingSession:
        viewing = session.get(ViewingSession, viewing_id)
        if viewing is None or (
            viewing.user_id != principal.user_id and not principal.can(Permission.view_any_camera)
        ):
            raise NotFound(f"no viewing session {viewing_id}")
        return viewing

    # -- streams --------------------------------------------------------------------------

    def _begin(
        self,
        principal: Principal,
        viewing_id: int,
        kind: ViewKind,
        camera_id: str,
        start_ms: int | None,
        end_ms: int | None,
    ) -> tuple[_Opened, tuple[int, int] | None, list[Segment]]:
        """Check the request against its session and record the span (committed)."""
        now = self.clock.now_ms()
        with self.db.session() as session:
            viewing = session.get(ViewingSession, viewing_id)
            # Only the session's own viewer streams from it, never anyone else.
            if viewing is None or viewing.user_id != principal.user_id:
                raise NotFound(f"no viewing session {viewing_id}")
            if viewing.ended_ms is not None:
                raise PermissionDenied(f"viewing session {viewing_id} has ended")
            if now >= viewing.expires_ms:
                self._close(session, viewing, "expired", "system")
                expired = True
            else:
                expired = False
        if expired:
            raise PermissionDenied(f"viewing session {viewing_id} has expired")
        with self.db.session() as session:
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
            return _Opened(viewing, span.id), span_range, segments

    def _finisher(self, viewing_id: int, span_id: int) -> Callable[[int, str], None]:
        def finish(sent: int, outcome: str) -> None:
            with self.db.session() as session:
                span = session.get(ViewingSpan, span_id)
                viewing = session.get(ViewingSession, viewing_id)
                if span is None or viewing is None:
                    return
                now = self.clock.now_ms()
                span.finished_ms, span.bytes_sent, span.outcome = now, sent, outcome
                if span.end_ms is None:  # live: the span is how long it was watched
                    span.end_ms = now
                viewing.served_bytes += sent
                session.add_all([span, viewing])

        return finish

    def recorded(
        self,
        principal: Principal,
        viewing_id: int,
        camera_id: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        transcode: bool | None = None,
    ) -> MediaStream:
        """Footage of one camera of a playback session as fragmented MP4 (H.264 for browsers).

        ``transcode`` None: transcode only what a browser cannot play (H.265); True forces it.
        """
        opened, span_range, segments = self._begin(
            principal, viewing_id, ViewKind.playback, camera_id, start_ms, end_ms
        )
        assert span_range is not None
        codec = segments[0].codec
        convert = codec not in _BROWSER_CODECS if transcode is None else transcode
        if convert:
            chunks = transcode_to_h264(
                samples_in_range(segments, *span_range, self.keys, self.segments_dir),
                span_range[0],
            )
        else:
            chunks = build_fmp4(segments, *span_range, self.keys, self.segments_dir)
        return MediaStream(
            chunks,
            self._finisher(viewing_id, opened.span_id),
            span_id=opened.span_id,
            codec=codec,
            transcoded=convert,
        )

    def live_stream(
        self,
        principal: Principal,
        viewing_id: int,
        camera_id: str,
    ) -> MediaStream:
        """The camera's live packets as fragmented MP4 while the session stays open."""
        opened, _, _ = self._begin(principal, viewing_id, ViewKind.live, camera_id, None, None)
        try:
            feed = self.live.feed(camera_id)
        except NotFound:
            self._finisher(viewing_id, opened.span_id)(0, "not live")
            raise
        checked = [self.clock.monotonic(), True]
        stream: MediaStream | None = None

        def keep_going() -> bool:
            # Re-read the session now and then: an ended or expired session stops the stream.
            if stream is not None and stream.stopped:
                return False
            if self.clock.monotonic() - float(checked[0]) >= _LIVE_CHECK_S:
                checked[0] = self.clock.monotonic()
                checked[1] = self._still_open(viewing_id, principal.user_id, camera_id)
            return bool(checked[1])

        codec = feed.streams[0].codec if feed.streams else ""
        stream = MediaStream(
            live_fmp4(feed, keep_going=keep_going),
            self._finisher(viewing_id, opened.span_id),
            span_id=opened.span_id,
            codec=codec,
            transcoded=False,
        )
        return stream

    def _still_open(self, viewing_id: int, user_id: int, camera_id: str) -> bool:
        now = self.clock.now_ms()
        with self.db.session() as session:
            viewing = session.get(ViewingSession, viewing_id)
            if viewing is None or viewing.ended_ms is not None or now >= viewing.expires_ms:
                return False
            user = session.get(User, user_id)
            if user is None or user.disabled:
                return False
            if viewing.login_session_id is not None:
                # Signing out (or an ended sign-in session) stops what it opened.
                login = session.get(LoginSession, viewing.login_session_id)
                if login is None or login.ended_ms is not None:
                    return False
            return may_view_camera(user.role, granted_cameras(session, user_id), camera_id)


def _ref(viewing: ViewingSession) -> str:
    return f"view:{viewing.id}"


def _spans(session: Session, viewing_id: int | None) -> list[ViewingSpan]:
    return list(
        session.exec(
            select(ViewingSpan)
            .where(ViewingSpan.viewing_id == viewing_id)
            .order_by(col(ViewingSpan.id))
        ).all()
    )
