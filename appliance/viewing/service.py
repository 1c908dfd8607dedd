"""Purpose-bound viewing sessions: opened with a ledger entry, streamed, ended with another.

Invariant 5: ``open`` writes the viewing session and its ledger entry in one transaction and
commits before any footage can be asked for; if the ledger cannot be written the session does
not exist and nothing is served. Each stream then stays inside its session (R-VIEW-3): its
cameras, its time range, its owner, until it ends or expires. What was actually served (one
span per stream, with bytes sent: ``appliance.viewing.spans``) is kept and summarised in the
closing ledger entry; ``appliance.viewing.stream`` carries the bytes.

Why sessions and streams are one class: a stream exists only inside a session, and every
rule that admits one (owner, expiry, cameras, range, grants read again, the per-user and
per-box slots) is the session's rule applied again at the moment of streaming; the stream's
end writes back into the session (bytes, outcome) that its closing ledger entry summarises.
Everything else lives beside it: the rules in ``scope``, ``spans`` and ``limits``, the bytes in
``stream``, ``pacing``, ``live`` and ``transcode``, and the object store's read-ahead hints in
``readahead``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

from sqlmodel import Session, col, select

from appliance.access.audit import record
from appliance.access.grants import granted_cameras
from appliance.access.principal import Principal
from appliance.access.roles import Permission
from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import NotFound, PermissionDenied, ValidationFailed, VaultLocked
from appliance.ledger import EventType, Ledger
from appliance.media import SegmentSource, build_fmp4
from appliance.media.format import Sample
from appliance.models import Camera
from appliance.models.access import ViewingSession, ViewingSpan
from appliance.nodes import live_location
from appliance.settings import Settings
from appliance.viewing.frames import samples_in_range
from appliance.viewing.limits import Slot, StreamSlots
from appliance.viewing.live import LiveFeed, LiveHub, live_fmp4
from appliance.viewing.live_transcode import LiveTranscodes
from appliance.viewing.pacing import paced
from appliance.viewing.purpose import Purpose
from appliance.viewing.readahead import open_first_early, warm_tails
from appliance.viewing.scope import ViewKind, check_open, clamp_end
from appliance.viewing.spans import (
    begin_span,
    close_viewing,
    mark_first_frame,
    span_finisher,
    spans_of,
    stop_reason,
    viewing_ref,
)
from appliance.viewing.stream import MediaStream, Watch
from appliance.viewing.transcode import transcode_to_h264

__all__ = ["FootageKeys", "MediaStream", "ViewingService"]

_BROWSER_CODECS = frozenset({"h264"})  # what Debian's Chromium plays (architecture.md)


class FootageKeys(Protocol):
    """The unlocked vault (``appliance.vault.Vault``)."""

    @property
    def is_unlocked(self) -> bool: ...

    def open_segment_key(self, vault_key_id: str, sealed_key: bytes) -> bytes: ...


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
        segments: SegmentSource | None = None,
    ) -> None:
        self.db = db
        # Where segments are read: the object store too when configured (issue 19).
        self._segments = segments
        self.clock = clock
        self.settings = settings
        self.ledger = ledger
        self.keys = keys
        self.live = live
        limits = settings.viewing
        self.slots = StreamSlots(
            per_user=limits.streams_per_user,
            per_box=limits.streams_per_box,
            transcodes=limits.transcodes_per_box,
            recorded_per_user=limits.recorded_streams_per_user,
            recorded_per_box=limits.recorded_streams_per_box,
        )
        self.live_transcodes = LiveTranscodes(self.slots.take_transcode)

    @property
    def segments_dir(self) -> SegmentSource:
        return self._segments if self._segments is not None else self.settings.segments_dir

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
        asked_end_ms = end_ms
        end_ms = clamp_end(kind, end_ms, now)
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
                if asked_end_ms != end_ms:
                    data["asked_to_ms"] = asked_end_ms  # clamped to the time of opening
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
                ref=viewing_ref(viewing),
            )
        if kind is ViewKind.playback:
            warm_tails(self.db, self.segments_dir, viewing)
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
            return spans_of(session, viewing_id)

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
            close_viewing(session, self.ledger, self.clock, viewing, reason, principal.actor)
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
                close_viewing(session, self.ledger, self.clock, viewing, "expired", "system")
            return len(stale)

    def _visible(self, session: Session, principal: Principal, viewing_id: int) -> ViewingSession:
        viewing = session.get(ViewingSession, viewing_id)
        if viewing is None or (
            viewing.user_id != principal.user_id and not principal.can(Permission.view_any_camera)
        ):
            raise NotFound(f"no viewing session {viewing_id}")
        return viewing

    # -- streams --------------------------------------------------------------------------

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
        """Footage of one camera of a playback session as fragmented MP4, paced near real time.

        H.264 is served as stored; H.265 (which Chromium cannot play) is converted to H.264
        within ``viewing.transcodes_per_box``. ``transcode`` False serves H.265 as stored (for
        a player that can); True asks for a conversion, refused for what needs none.
        """
        slot = self.slots.take(principal.user_id, recorded=True)
        try:
            span_id, span_range, segments = begin_span(
                self.db,
                self.clock,
                self.ledger,
                principal,
                viewing_id,
                ViewKind.playback,
                camera_id,
                start_ms,
                end_ms,
                on_segments=partial(open_first_early, self.segments_dir),
            )
        except BaseException:
            slot.release()
            raise
        finish = self._finisher(viewing_id, span_id, slot)
        try:
            assert span_range is not None
            codec = segments[0].codec
            convert = codec not in _BROWSER_CODECS
            if transcode is True and not convert:
                raise ValidationFailed(f"{codec} plays in the browser as stored: no conversion")
            if transcode is False:
                convert = False
            if convert:
                slot.add_transcode()
                source = transcode_to_h264(
                    samples_in_range(segments, *span_range, self.keys, self.segments_dir),
                    span_range[0],
                )
            else:
                # The stream starts at the key frame at or before the asked start: that
                # pre-roll is shown too, so the span (and the closing entry) starts there.
                source = build_fmp4(
                    segments,
                    *span_range,
                    self.keys,
                    self.segments_dir,
                    on_first_frame=lambda first: mark_first_frame(self.db, span_id, first),
                )
        except BaseException:
            finish(0, "refused")
            raise
        watch = self._watch(principal, viewing_id, camera_id)
        chunks = paced(source, burst_s=self.settings.viewing.burst_s, keep_going=watch)
        return MediaStream(
            chunks, finish, span_id=span_id, codec=codec, transcoded=convert, watch=watch
        )

    def live_stream(
        self,
        principal: Principal,
        viewing_id: int,
        camera_id: str,
        *,
        transcode: bool | None = None,
    ) -> MediaStream:
        """The camera's live packets as fragmented MP4 while the session (and sign-in) holds.

        H.264 is remuxed as the camera sends it; H.265 goes through the camera's shared live
        encoder (H.264) unless ``transcode`` is False (the player plays H.265).
        """
        slot = self.slots.take(principal.user_id)
        try:
            span_id, _, _ = begin_span(
                self.db,
                self.clock,
                self.ledger,
                principal,
                viewing_id,
                ViewKind.live,
                camera_id,
                None,
                None,
            )
        except BaseException:
            slot.release()
            raise
        finish = self._finisher(viewing_id, span_id, slot)
        try:
            feed: LiveFeed = self.live.feed(camera_id)
        except NotFound as exc:
            finish(0, "not live")
            raise self._live_elsewhere(camera_id) from exc
        codec = feed.streams[0].codec if feed.streams else ""
        convert = bool(codec) and codec not in _BROWSER_CODECS and transcode is not False
        if transcode is True and codec in _BROWSER_CODECS:
            finish(0, "refused")
            raise ValidationFailed(f"{codec} plays in the browser as sent: no conversion")
        if convert:
            try:
                lease = self.live_transcodes.acquire(camera_id, feed)
            except BaseException:
                finish(0, "refused")
                raise
            feed = lease.feed
            finish = _then(finish, lease.release)
        watch = self._watch(principal, viewing_id, camera_id)

        def started(key: Sample) -> None:
            # The first picture is the cached key frame, older than now: the span says so.
            if key.wall_ms:
                mark_first_frame(self.db, span_id, key.wall_ms)

        return MediaStream(
            live_fmp4(feed, keep_going=watch, on_start=started),
            finish,
            span_id=span_id,
            codec=codec,
            transcoded=convert,
            watch=watch,
        )

    def _watch(self, principal: Principal, viewing_id: int, camera_id: str) -> Watch:
        """Re-reads, every ``viewing.recheck_s``, whether the stream may go on."""
        server = self.settings.server

        def check() -> str | None:
            return stop_reason(
                self.db,
                self.clock,
                viewing_id,
                principal.user_id,
                camera_id,
                idle_s=server.session_idle_s,
                absolute_s=server.session_absolute_s,
            )

        return Watch(check, self.settings.viewing.recheck_s)

    def _live_elsewhere(self, camera_id: str) -> NotFound:
        """Live view is served by the node that records the camera (design/scale.md): name
        it, and where its web daemon answers, for the viewer to open it there."""
        with self.db.session() as session:
            where = live_location(session, camera_id)
        if where is None:
            return NotFound(f"camera {camera_id!r} is not live on this node")
        node, url = where
        return NotFound(
            f"camera {camera_id!r} is recorded by node {node}: live view is served there"
            + (f" ({url})" if url else "")
        )

    def _finisher(self, viewing_id: int, span_id: int, slot: Slot) -> Callable[[int, str], None]:
        """Finish the span, then free the stream's slot (once, however the stream ended)."""
        record_span = span_finisher(self.db, self.clock, viewing_id, span_id)

        def finish(sent: int, outcome: str) -> None:
            try:
                record_span(sent, outcome)
            finally:
                slot.release()

        return finish


def _then(
    finish: Callable[[int, str], None], after: Callable[[], None]
) -> Callable[[int, str], None]:
    """``finish``, then ``after`` (however the first ends)."""

    def both(sent: int, outcome: str) -> None:
        try:
            finish(sent, outcome)
        finally:
            after()

    return both
