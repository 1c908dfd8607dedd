"""Issue 13, finding 3: nobody can keep an account locked, and sign-in tells nothing.

Failure counts fade, failing clients are throttled per address, a lock set by other clients is
passed with the right password and TOTP code, and every refusal reads and costs the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from appliance.access import AccessService, totp
from appliance.access.login import _dummy_hash
from appliance.access.throttle import LoginThrottled, client_key, decayed_failures
from appliance.accounts import verify_password
from appliance.clock import FakeClock
from appliance.errors import AuthenticationFailed
from appliance.models import Role, User
from tests.support.users import PASSWORD

MakeUser = Callable[..., User]
WRONG = "not the password"


def _fail(access: AccessService, username: str, *, times: int = 1, remote: str = "") -> None:
    for _ in range(times):
        with pytest.raises(AuthenticationFailed):
            access.login(username, WRONG, remote_addr=remote)


def test_one_wrong_password_an_hour_does_not_keep_an_account_locked(
    access: AccessService, clock: FakeClock, make_user: MakeUser
) -> None:
    make_user("lee")
    _fail(access, "lee", times=5, remote="10.0.0.9")  # locked for 30 s
    for hour in range(6):
        clock.advance(3600)
        _fail(access, "lee", remote=f"10.0.{hour}.1")  # the trickle, from new addresses
        clock.advance(60)
        access.login("lee", PASSWORD, remote_addr="10.1.1.1")  # the owner gets in each time


def test_failure_counts_fade() -> None:
    assert decayed_failures(5, 0, 0, 900) == 5
    assert decayed_failures(5, 0, 900_000, 900) == 4
    assert decayed_failures(5, 0, 10 * 900_000, 900) == 0
    assert decayed_failures(0, 0, 0, 900) == 0


def test_a_failing_client_is_throttled_and_others_are_not(
    access: AccessService, clock: FakeClock, make_user: MakeUser
) -> None:
    make_user("kim")
    make_user("park")
    threshold = access.server.client_failure_threshold
    # Spread over many usernames, so no account lock is what stops it.
    for i in range(threshold):
        _fail(access, f"guess{i}", remote="203.0.113.7")
    with pytest.raises(LoginThrottled) as refused:
        access.login("kim", PASSWORD, remote_addr="203.0.113.7")
    assert refused.value.retry_after_s > 0
    assert access.login("park", PASSWORD, remote_addr="198.51.100.2").principal.username == "park"
    clock.advance(refused.value.retry_after_s)
    access.login("kim", PASSWORD, remote_addr="203.0.113.7")


def test_ipv6_clients_count_per_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert client_key("testclient") == "testclient"


def test_a_lock_from_other_clients_is_passed_with_password_and_totp(
    access: AccessService, clock: FakeClock, make_user: MakeUser
) -> None:
    make_user("officer", Role.officer)
    me = access.login("officer", PASSWORD, remote_addr="10.0.0.2").principal
    secret, _ = access.totp_begin(me)
    access.totp_confirm(me, totp.totp(secret, clock.now_ms()))
    clock.advance(30)
    _fail(access, "officer", times=8, remote="198.51.100.66")  # someone else locks it
    # The attacker's client cannot pass its own lock, even with the right credentials.
    with pytest.raises(AuthenticationFailed):
        access.login(
            "officer",
            PASSWORD,
            totp_code=totp.totp(secret, clock.now_ms()),
            remote_addr="198.51.100.66",
        )
    # The password alone does not pass the lock.
    with pytest.raises(AuthenticationFailed):
        access.login("officer", PASSWORD, remote_addr="10.0.0.2")
    clock.advance(30)
    result = access.login(
        "officer", PASSWORD, totp_code=totp.totp(secret, clock.now_ms()), remote_addr="10.0.0.2"
    )
    assert result.principal.username == "officer"


def test_every_refusal_reads_the_same(
    access: AccessService, clock: FakeClock, make_user: MakeUser
) -> None:
    make_user("choi")
    make_user("agency", Role.agency)
    make_user("han")
    me = access.login("han", PASSWORD).principal
    secret, _ = access.totp_begin(me)
    access.totp_confirm(me, totp.totp(secret, clock.now_ms()))
    _fail(access, "choi", times=5, remote="10.9.9.9")  # locked
    shown = set()
    for username, password, code in [
        ("nobody", PASSWORD, None),
        ("choi", PASSWORD, None),  # locked
        ("agency", PASSWORD, None),  # right password
        ("han", PASSWORD, None),  # right password, no code
        ("han", PASSWORD, "12345x"),  # right password, wrong code
    ]:
        with pytest.raises(AuthenticationFailed) as refused:
            access.login(username, password, totp_code=code, remote_addr="10.2.2.2")
        shown.add(str(refused.value))
    assert shown == {"invalid username, password or TOTP code"}


def test_a_locked_account_costs_an_argon2_verification(
    access: AccessService, make_user: MakeUser
) -> None:
    make_user("jung")
    _fail(access, "jung", times=5, remote="10.3.3.3")
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        verify_password(_dummy_hash(), PASSWORD)
        runs.append(time.perf_counter() - started)
    started = time.perf_counter()
    with pytest.raises(AuthenticationFailed):
        access.login("jung", PASSWORD, remote_addr="10.4.4.4")
    assert time.perf_counter() - started >= 0.6 * min(runs)
