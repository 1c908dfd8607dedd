"""The pure rules of issue 13, finding 2: an agency request's scope and rate limits, and
narrowing a hold (never widening it)."""

from __future__ import annotations

import pytest

from appliance.access import AccessService, Principal, Via
from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import RateLimited, ValidationFailed
from appliance.models import Role
from appliance.requests import Channel, NewRequest, RequesterKind, RequestKind, RequestService
from appliance.requests.limits import (
    HOUR_MS,
    AgencyLoad,
    check_agency_rate,
    check_agency_scope,
    longest_retention_days,
)
from appliance.retention.holds import narrowed_scope
from appliance.settings import GroupConfig, RequestsConfig
from tests.support.config import SettingsFactory
from tests.support.principals import OFFICER

DAY_MS = 86_400_000
NOW = 1_772_323_200_000  # 2026-03-01 00:00 UTC
CONFIG = RequestsConfig(agency_max_cameras=2, agency_per_hour=3, agency_max_open=4)


def _new(cameras: tuple[str, ...], start_ms: int, end_ms: int) -> NewRequest:
    return NewRequest(
        kind=RequestKind.copy,
        requester_kind=RequesterKind.police,
        requester_name="경위",
        camera_ids=cameras,
        start_ms=start_ms,
        end_ms=end_ms,
        letter_reference="1",
        channel=Channel.api,
    )


def test_scope_limits() -> None:
    def check(new: NewRequest) -> None:
        check_agency_scope(new, now_ms=NOW, retention_days=30, config=CONFIG)

    check(_new(("a", "b", "a"), NOW - DAY_MS, NOW))  # two distinct cameras, exactly 24 h
    check(_new(("a",), NOW - 30 * DAY_MS, NOW - 29 * DAY_MS))  # exactly the oldest allowed
    with pytest.raises(ValidationFailed, match="at most 2 cameras"):
        check(_new(("a", "b", "c"), NOW - HOUR_MS, NOW))
    with pytest.raises(ValidationFailed, match=r"at most 24 h of footage \(24 h 1 min asked\)"):
        check(_new(("a",), NOW - DAY_MS - 60_000, NOW))
    with pytest.raises(ValidationFailed, match="older than 30 days"):
        check(_new(("a",), NOW - 30 * DAY_MS - 1, NOW - 29 * DAY_MS - 1))


def test_rate_limits() -> None:
    check_agency_rate(AgencyLoad(2, NOW - 1000, 3), now_ms=NOW, config=CONFIG)
    with pytest.raises(RateLimited, match="4 open requests") as open_cap:
        check_agency_rate(AgencyLoad(0, None, 4), now_ms=NOW, config=CONFIG)
    assert open_cap.value.retry_after_s is None  # waiting alone does not help
    with pytest.raises(RateLimited, match="3 requests in the last hour") as hourly:
        check_agency_rate(AgencyLoad(3, NOW - 20 * 60_000, 3), now_ms=NOW, config=CONFIG)
    assert hourly.value.retry_after_s == 40 * 60


def test_the_longest_retention_of_the_cameras_groups() -> None:
    groups = [GroupConfig(name="general", max_days=30), GroupConfig(name="daycare", max_days=90)]
    assert longest_retention_days(groups, ["general"]) == 30
    assert longest_retention_days(groups, ["general", "daycare"]) == 90
    assert longest_retention_days(groups, ["removed"]) == 90  # unknown: do not refuse early


def test_narrowing_only_shrinks() -> None:
    held = ("cam01", "cam02")

    def narrow(cameras: tuple[str, ...], start: int, end: int) -> tuple[str, ...]:
        return narrowed_scope(held, 100, 200, camera_ids=cameras, start_ms=start, end_ms=end)

    assert narrow(("cam02",), 100, 200) == ("cam02",)
    assert narrow(("cam02", "cam01"), 150, 160) == ("cam01", "cam02")
    for cameras, start, end in [
        (("cam01", "cam03"), 100, 200),  # adds a camera
        (("cam01",), 99, 200),  # earlier
        (("cam01",), 100, 201),  # later
        (("cam01", "cam02"), 100, 200),  # the same scope
        ((), 100, 200),  # no camera: that is a release
        (("cam01",), 160, 150),  # reversed
    ]:
        with pytest.raises(ValidationFailed):
            narrow(cameras, start, end)


@pytest.mark.postgres
def test_agency_limits_and_narrowing_on_postgresql(
    make_settings: SettingsFactory, clock: FakeClock, pg_url: str
) -> None:
    # The per-agency row lock (FOR UPDATE) and the narrowing's update order run on PostgreSQL.
    settings = make_settings(database={"url": pg_url}, requests={"agency_per_hour": 1})
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    try:
        agency = AccessService(ctx.db, clock, settings.server, ctx.ledger).create_user(
            Principal.local("root"), username="police1", role=Role.agency, display_name="경찰",
            password="x" * 12,
        )[0]  # fmt: skip
        assert agency.id is not None
        principal = Principal(agency.id, "police1", Role.agency, Via.token)
        service = RequestService(ctx)
        now = clock.now_ms()
        new = _new(("cam01", "cam02"), now - HOUR_MS, now)
        request = service.receive(principal, new)
        with pytest.raises(RateLimited):
            service.receive(principal, new)
        assert request.id is not None
        view = service.narrow_hold(
            OFFICER, request.id, camera_ids=["cam02"], start_ms=now - 60_000, end_ms=now,
            reason="범위 축소",
        )  # fmt: skip
        assert view.camera_ids == ("cam02",) and service.hold(OFFICER, request.id).active
    finally:
        ctx.close()
