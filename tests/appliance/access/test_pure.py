"""Pure decisions: roles and permissions, lockout backoff, TOTP (RFC 6238 vectors), expiry."""

from __future__ import annotations

import base64

import pytest

from appliance.access import totp
from appliance.access.lockout import LockoutPolicy, lock_duration_s
from appliance.access.roles import (
    FOOTAGE_ROLES,
    Permission,
    may_see_camera,
    may_view_camera,
    permits,
    roles_with,
    visible_cameras,
)
from appliance.access.sessions import expiry_reason
from appliance.models import Role
from appliance.models.access import LoginSession


def test_auditor_and_agency_never_see_video() -> None:
    for role in (Role.auditor, Role.agency):
        assert not permits(role, Permission.view_footage)
        assert not may_view_camera(role, ["cam01"], "cam01")
    assert set(FOOTAGE_ROLES) == {Role.admin, Role.officer, Role.viewer}


def test_viewer_views_only_granted_cameras() -> None:
    assert may_view_camera(Role.viewer, ["cam01"], "cam01")
    assert not may_view_camera(Role.viewer, ["cam01"], "cam02")
    assert visible_cameras(Role.viewer, ["cam02"], ["cam01", "cam02", "cam03"]) == ["cam02"]


def test_admin_needs_a_grant_for_footage_but_sees_metadata() -> None:
    assert not may_view_camera(Role.admin, [], "cam01")
    assert may_view_camera(Role.admin, ["cam01"], "cam01")
    assert may_see_camera(Role.admin, [], "cam01")


def test_officer_views_every_camera() -> None:
    assert may_view_camera(Role.officer, [], "cam09")


def test_unknown_role_has_nothing() -> None:
    assert not any(permits("root", p) for p in Permission)


def test_roles_with() -> None:
    assert roles_with(Permission.manage_accounts) == (Role.admin,)
    assert set(roles_with(Permission.read_ledger)) == {Role.officer, Role.auditor}


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 0), (4, 0), (5, 30), (6, 60), (7, 120), (11, 1920), (12, 3600), (100, 3600)],
)
def test_lockout_backoff(failures: int, expected: int) -> None:
    assert lock_duration_s(failures, 5, 30, 3600) == expected


def test_lockout_until() -> None:
    policy = LockoutPolicy(threshold=3, base_s=10, max_s=100)
    assert policy.lock_until_ms(2, 1_000) == 0
    assert policy.lock_until_ms(3, 1_000) == 11_000


# RFC 6238 appendix B, SHA-1 rows (8 digits; the seed is the ASCII "12345678901234567890").
_RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
_RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_s", "code"), _RFC_VECTORS)
def test_totp_rfc6238_vectors(unix_s: int, code: str) -> None:
    assert totp.totp(_RFC_SECRET, unix_s * 1000, digits=8) == code


def test_totp_verify_window_and_replay() -> None:
    secret = totp.new_secret()
    now = 1_772_323_200_000
    code = totp.totp(secret, now)
    step = totp.verify(secret, code, now)
    assert step == totp.step_at(now)
    # The previous step's code is still accepted (clock drift), two steps back is not.
    assert totp.verify(secret, totp.totp(secret, now - 30_000), now) == step - 1
    assert totp.verify(secret, totp.totp(secret, now - 60_000), now) is None
    # A code once used is not accepted again (last_step moved on).
    assert totp.verify(secret, code, now, last_step=step) is None
    assert totp.verify(secret, "12345", now) is None
    assert totp.verify(secret, "abcdef", now) is None


def test_provisioning_uri() -> None:
    uri = totp.provisioning_uri("ABCDEF", "kim", "CCTV")
    assert uri.startswith("otpauth://totp/CCTV%3Akim?") and "secret=ABCDEF" in uri


def _row(created: int, seen: int, ended: int | None = None) -> LoginSession:
    return LoginSession(
        user_id=1,
        token_hash="x",
        csrf_token="y",
        created_ms=created,
        last_seen_ms=seen,
        ended_ms=ended,
        end_reason="logout" if ended else "",
    )


def test_session_expiry_reasons() -> None:
    assert expiry_reason(_row(0, 0), 59_999, idle_s=60, absolute_s=600) is None
    assert expiry_reason(_row(0, 0), 60_000, idle_s=60, absolute_s=600) == "idle"
    assert expiry_reason(_row(0, 590_000), 600_000, idle_s=60, absolute_s=600) == "absolute"
    assert expiry_reason(_row(0, 0, ended=5), 10, idle_s=60, absolute_s=600) == "logout"
