"""One TOTP code signs in once, even when two sign-ins race on PostgreSQL (issue 13, finding 8).

Both sign-ins pass the password check; without a lock on the account row both read the same
last used step, both accept the code and both get a session. The account row is locked
(``SELECT ... FOR UPDATE``) before the last step is read, so the second waits for the first
to commit and then finds the code used.

The race is made certain, not likely: the test holds the ledger's tip row locked (as a long
ledger write would), so the first sign-in stops at its ledger entry after reading the step,
and the second gets as far as it can; then the tip is released.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest

from appliance.access import AccessService, Principal, totp
from appliance.cli.main import initialize
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import AuthenticationFailed
from appliance.ledger import EventType
from appliance.models import Role
from tests.support.config import SettingsFactory
from tests.support.users import PASSWORD


def _wait_for_lock_waiters(conn: psycopg.Connection[tuple[int]], count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        if row is not None and row[0] >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} sign-ins never waited on a lock")


@pytest.mark.postgres
def test_a_totp_code_signs_in_once_under_a_race(
    make_settings: SettingsFactory, clock: FakeClock, pg_url: str
) -> None:
    settings = make_settings(database={"url": pg_url})
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    try:
        access = AccessService(ctx.db, ctx.clock, ctx.settings.server, ctx.ledger)
        access.create_user(
            Principal.local("root"),
            username="officer9",
            role=Role.officer,
            display_name="O",
            password=PASSWORD,
        )
        me = access.login("officer9", PASSWORD, remote_addr="10.0.0.1").principal
        secret, _ = access.totp_begin(me)
        access.totp_confirm(me, totp.totp(secret, clock.now_ms()))
        clock.advance(timedelta(seconds=totp.STEP_S))
        code = totp.totp(secret, clock.now_ms())

        def attempt(client: int) -> bool:
            try:
                access.login("officer9", PASSWORD, totp_code=code, remote_addr=f"10.1.0.{client}")
            except AuthenticationFailed:
                return False
            return True

        dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as holder, psycopg.connect(dsn, autocommit=True) as watcher:
            holder.execute("SELECT seq FROM ledger_tip WHERE id = 1 FOR UPDATE")
            with ThreadPoolExecutor(2) as pool:
                first = pool.submit(attempt, 1)
                _wait_for_lock_waiters(watcher, 1)  # the first has read the step
                second = pool.submit(attempt, 2)
                _wait_for_lock_waiters(watcher, 2)
                holder.rollback()  # the ledger moves on
                outcomes = [first.result(60), second.result(60)]
        assert outcomes == [True, False]
        refusals = ctx.ledger.entries(events=[EventType.login_failure], limit=None)
        assert refusals[-1].data["reason"] == "wrong TOTP code"  # recorded, never shown
    finally:
        ctx.close()
