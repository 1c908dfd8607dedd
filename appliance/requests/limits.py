"""What one agency account may ask through the agency API (issue 13, finding 2).

Every request places a hold, and held footage is never purged, not even under disk pressure:
an unbounded agency could freeze retention until the disk fills and recording stops. So an
agency request is bounded in scope (``check_agency_scope``: cameras, length of the range, and
age: nothing older than the longest retention of its cameras' groups, since older footage
cannot exist) and in rate (``check_agency_rate``: submissions per rolling hour and requests
open at once, per agency account over all its tokens, so issuing more tokens does not raise
the budget). Scope is refused with ValidationFailed (422), rate with RateLimited (429).
Requests received by the officer at the desk are not bounded: the officer is accountable.
The limits are ``[requests] agency_*`` settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from appliance.errors import RateLimited, ValidationFailed
from appliance.models import Camera, FootageRequest, User
from appliance.requests.kinds import NewRequest, RequestState
from appliance.requests.workflow import DAY_MS
from appliance.settings import GroupConfig, RequestsConfig

__all__ = [
    "HOUR_MS",
    "AgencyLoad",
    "admit_agency_request",
    "agency_load",
    "camera_groups",
    "check_agency_rate",
    "check_agency_scope",
    "longest_retention_days",
]

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class AgencyLoad:
    """What an agency account has asked lately: its submissions within the last hour (and when
    the oldest of them was made) and its requests not yet closed."""

    last_hour: int
    oldest_in_hour_ms: int | None
    open_requests: int


def longest_retention_days(groups: Sequence[GroupConfig], camera_groups: Sequence[str]) -> int:
    """The longest ``max_days`` among the groups named; a group no longer configured counts as
    the longest of all (what its footage was kept for is unknown, so do not refuse early)."""
    by_name = {g.name: g.max_days for g in groups}
    longest = max(by_name.values())
    return max((by_name.get(name, longest) for name in camera_groups), default=longest)


def check_agency_scope(
    new: NewRequest, *, now_ms: int, retention_days: int, config: RequestsConfig
) -> None:
    """Refuse (ValidationFailed, naming the limit) an agency request that names too many
    cameras, too long a range, or footage older than any retention keeps."""
    cameras = set(new.camera_ids)
    if len(cameras) > config.agency_max_cameras:
        raise ValidationFailed(
            f"an agency request names at most {config.agency_max_cameras} cameras "
            f"({len(cameras)} named); ask for the others in another request"
        )
    limit_ms = config.agency_max_range_s * 1000
    if new.end_ms - new.start_ms > limit_ms:
        raise ValidationFailed(
            f"an agency request covers at most {_duration(limit_ms)} of footage "
            f"({_duration(new.end_ms - new.start_ms)} asked); split it into several requests"
        )
    oldest_ms = now_ms - retention_days * DAY_MS
    if new.start_ms < oldest_ms:
        raise ValidationFailed(
            f"footage older than {retention_days} days (the longest retention of these cameras) "
            f"no longer exists: start the range at {oldest_ms} (UTC ms) or later"
        )


def check_agency_rate(load: AgencyLoad, *, now_ms: int, config: RequestsConfig) -> None:
    """Refuse (RateLimited) a submission beyond the hourly budget or the open-request cap."""
    if load.open_requests >= config.agency_max_open:
        raise RateLimited(
            f"this agency account has {load.open_requests} open requests, the most allowed "
            f"({config.agency_max_open}); more are accepted once the officer closes some"
        )
    if load.last_hour >= config.agency_per_hour:
        oldest = load.oldest_in_hour_ms if load.oldest_in_hour_ms is not None else now_ms
        retry_s = max(1, -(-(oldest + HOUR_MS - now_ms) // 1000))
        raise RateLimited(
            f"this agency account submitted {load.last_hour} requests in the last hour, the "
            f"most allowed ({config.agency_per_hour}); try again in {retry_s} s",
            retry_after_s=retry_s,
        )


def agency_load(session: Session, agency_user_id: int, now_ms: int) -> AgencyLoad:
    """The agency's load, read in the submitting transaction. On PostgreSQL the agency's
    account row is locked first, so two concurrent submissions by one agency are counted one
    after the other (SQLite already has one writer at a time, and a transaction that read
    before another's commit cannot write)."""
    if session.get_bind().dialect.name == "postgresql":
        session.exec(select(User.id).where(User.id == agency_user_id).with_for_update()).all()
    mine = FootageRequest.agency_user_id == agency_user_id
    since = now_ms - HOUR_MS
    last_hour, oldest = session.exec(
        select(func.count(), func.min(FootageRequest.created_ms)).where(
            mine, FootageRequest.created_ms > since
        )
    ).one()
    open_requests = session.exec(
        select(func.count()).where(mine, FootageRequest.state != RequestState.closed.value)
    ).one()
    return AgencyLoad(
        last_hour=int(last_hour),
        oldest_in_hour_ms=None if oldest is None else int(oldest),
        open_requests=int(open_requests),
    )


def camera_groups(session: Session, camera_ids: Sequence[str]) -> list[str]:
    """The group names of the cameras (rows of the ``camera`` table)."""
    return list(session.exec(select(Camera.group_name).where(col(Camera.id).in_(camera_ids))).all())


def admit_agency_request(
    session: Session,
    new: NewRequest,
    *,
    agency_user_id: int,
    now_ms: int,
    groups: Sequence[GroupConfig],
    config: RequestsConfig,
) -> None:
    """Both checks, in the submitting transaction: scope first (the agency can fix it), then
    rate."""
    days = longest_retention_days(groups, camera_groups(session, new.camera_ids))
    check_agency_scope(new, now_ms=now_ms, retention_days=days, config=config)
    check_agency_rate(agency_load(session, agency_user_id, now_ms), now_ms=now_ms, config=config)


def _duration(ms: int) -> str:
    # Minutes rounded up, so a range just over the limit never reads as the limit itself.
    hours, minutes = divmod(-(-ms // 60_000), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
