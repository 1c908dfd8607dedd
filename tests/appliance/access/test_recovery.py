"""Recovery codes: shown once at TOTP enrolment, each works once in place of a TOTP code, using
one is in the ledger, a new set voids the old one, and removing TOTP voids them all."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from appliance.access import AccessService, Principal, recovery, totp
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import AuthenticationFailed, ValidationFailed
from appliance.ledger import EventType
from appliance.models import User
from tests.support.users import PASSWORD

MakeUser = Callable[..., User]


def _enrol(access: AccessService, clock: FakeClock, username: str) -> tuple[str, list[str]]:
    me = access.login(username, PASSWORD).principal
    secret, _ = access.totp_begin(me)
    codes = access.totp_confirm(me, totp.totp(secret, clock.now_ms()))
    access.logout(me)
    clock.advance(30)
    return secret, codes


def _logins(ctx: AppContext) -> list[dict[str, object]]:
    return [e.data for e in ctx.ledger.entries(events=(EventType.login_success,), limit=None)]


def test_code_shape_and_normalisation() -> None:
    codes = recovery.new_codes()
    assert len(codes) == recovery.CODE_COUNT == len(set(codes))
    for code in codes:
        assert recovery.looks_like_recovery_code(code)
        assert recovery.looks_like_recovery_code(code.upper().replace("-", " "))
    assert not recovery.looks_like_recovery_code("123456")
    assert not recovery.looks_like_recovery_code("k7mq-3xha-p9s0")  # 0 is not in the alphabet
    assert recovery.normalise(" K7MQ-3xha p9sd ") == "k7mq3xhap9sd"


def test_a_recovery_code_signs_in_once_and_is_ledgered(
    ctx: AppContext, clock: FakeClock, access: AccessService, make_user: MakeUser
) -> None:
    make_user("yoon")
    _, codes = _enrol(access, clock, "yoon")
    assert len(codes) == 10
    first = codes[0]
    result = access.login("yoon", PASSWORD, totp_code=first.upper())
    assert result.principal.username == "yoon"
    assert _logins(ctx)[-1] | {"remote": ""} == {
        "username": "yoon",
        "remote": "",
        "mfa": True,
        "recovery_code": True,
        "recovery_codes_left": 9,
    }
    assert access.recovery_codes_left(result.principal) == 9
    with pytest.raises(AuthenticationFailed):  # spent
        access.login("yoon", PASSWORD, totp_code=first)
    # Another account's code does not open this one.
    make_user("park")
    _, other = _enrol(access, clock, "park")
    with pytest.raises(AuthenticationFailed):
        access.login("yoon", PASSWORD, totp_code=other[0])


def test_a_new_set_voids_the_old_and_removing_totp_voids_all(
    clock: FakeClock, access: AccessService, make_user: MakeUser
) -> None:
    make_user("lee")
    secret, old = _enrol(access, clock, "lee")
    me: Principal = access.login("lee", PASSWORD, totp_code=old[0]).principal
    with pytest.raises(ValidationFailed, match="a current TOTP code is required"):
        access.new_recovery_codes(me, "000000")
    new = access.new_recovery_codes(me, old[1])  # a recovery code stands in here too
    assert not set(new) & set(old)
    with pytest.raises(AuthenticationFailed):
        access.login("lee", PASSWORD, totp_code=old[2])
    # Lost phone: TOTP switched off with a recovery code; every code then stops working.
    access.totp_disable(me, me.user_id, new[0])
    assert access.recovery_codes_left(me) == 0
    assert access.login("lee", PASSWORD).principal.username == "lee"
    clock.advance(30)
    # Enrolling again gives a fresh set that works.
    again = access.login("lee", PASSWORD).principal
    secret, _ = access.totp_begin(again)
    fresh = access.totp_confirm(again, totp.totp(secret, clock.now_ms()))
    assert access.login("lee", PASSWORD, totp_code=fresh[3]).principal.username == "lee"
