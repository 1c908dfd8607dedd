"""Minimum scope (R-VIEW-3) as pure decisions: what a viewing session may be opened for, and
whether one stream request stays inside its session."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from appliance.access.roles import Permission, may_view_camera, permits
from appliance.errors import NotFound, PermissionDenied, ValidationFailed
from appliance.models import Role

__all__ = ["MAX_CAMERAS", "ViewKind", "check_open", "clamp_end", "media_range"]

MAX_CAMERAS = 16


class ViewKind(StrEnum):
    playback = "playback"
    live = "live"


def check_open(
    *,
    role: Role,
    granted: Iterable[str],
    known_cameras: Iterable[str],
    kind: ViewKind,
    cameras: Sequence[str],
    start_ms: int | None,
    end_ms: int | None,
    now_ms: int,
    max_range_s: int,
) -> list[str]:
    """The session's cameras (deduplicated, in order) if it may be opened; raises otherwise."""
    if not permits(role, Permission.view_footage):
        raise PermissionDenied(f"a {role.value} never sees video")
    chosen = list(dict.fromkeys(cameras))
    if not chosen:
        raise ValidationFailed("name at least one camera")
    if len(chosen) > MAX_CAMERAS:
        raise ValidationFailed(f"at most {MAX_CAMERAS} cameras per viewing session")
    known, granted_set = set(known_cameras), set(granted)
    for camera_id in chosen:
        # An unknown camera and one not granted look alike to the caller.
        if camera_id not in known or not may_view_camera(role, granted_set, camera_id):
            raise PermissionDenied(f"you may not view camera {camera_id!r}")
    if kind is ViewKind.live:
        if start_ms is not None or end_ms is not None:
            raise ValidationFailed("live view takes no time range")
        return chosen
    if start_ms is None or end_ms is None:
        raise ValidationFailed("playback needs start_ms and end_ms")
    if start_ms >= now_ms:
        raise ValidationFailed("the range starts in the future")
    if end_ms <= start_ms:
        raise ValidationFailed("end_ms must be after start_ms")
    if end_ms > now_ms:  # clamp_end first; what is not recorded yet is live view
        raise ValidationFailed("the range ends in the future: use live view")
    if end_ms - start_ms > max_range_s * 1000:
        raise ValidationFailed(
            f"the range is wider than {max_range_s} s; open a narrower session (R-VIEW-3)"
        )
    return chosen


def clamp_end(kind: ViewKind, end_ms: int | None, now_ms: int) -> int | None:
    """A playback range ends now at the latest: an end in the future would turn playback into
    live view (watching what has not happened yet, under a playback purpose). The end is
    clamped, not refused, so a form that picks "until 18:00" at 14:00 still works; the session
    and its ledger entry show the clamped end (and the one asked for)."""
    if kind is ViewKind.playback and end_ms is not None and end_ms > now_ms:
        return now_ms
    return end_ms


def media_range(
    *,
    cameras: Sequence[str],
    session_start_ms: int,
    session_end_ms: int,
    camera_id: str,
    start_ms: int | None,
    end_ms: int | None,
) -> tuple[int, int]:
    """The range to stream: the request's, defaulting to the session's; never outside it."""
    if camera_id not in cameras:
        raise NotFound(f"camera {camera_id!r} is not part of this viewing session")
    start = session_start_ms if start_ms is None else start_ms
    end = session_end_ms if end_ms is None else end_ms
    if start < session_start_ms or end > session_end_ms:
        raise PermissionDenied("the range lies outside this viewing session's scope (R-VIEW-3)")
    if end <= start:
        raise ValidationFailed("end_ms must be after start_ms")
    return start, end
