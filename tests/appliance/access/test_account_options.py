"""What the accounts pages offer: an admin sees officer and admin roles off (the officer's
call), the officer sees only those on; nobody re-roles, disables or grants to themselves."""

from __future__ import annotations

from appliance.access import Principal, Via
from appliance.access.account_options import (
    REASONS,
    Option,
    account_options,
    creatable_roles,
    may_open_accounts,
    role_options,
)
from appliance.models import Role


def _p(role: Role, user_id: int = 1) -> Principal:
    return Principal(user_id=user_id, username=role.value, role=role, via=Via.session)


def test_an_admin_may_not_create_officers_or_admins() -> None:
    options = creatable_roles(_p(Role.admin))
    assert options[Role.officer] == Option(False, "needs_officer")
    assert options[Role.admin] == Option(False, "needs_officer")
    assert all(options[r].allowed for r in (Role.viewer, Role.auditor, Role.agency))


def test_the_officer_creates_only_officers_and_admins() -> None:
    options = creatable_roles(_p(Role.officer))
    assert options[Role.officer].allowed and options[Role.admin].allowed
    assert options[Role.viewer] == Option(False, "needs_admin")
    assert all(o.allowed for o in creatable_roles(Principal.local("root")).values())


def test_role_changes_and_own_account() -> None:
    admin = _p(Role.admin)
    assert role_options(admin, 2, Role.viewer)[Role.admin] == Option(False, "needs_officer")
    assert role_options(admin, 2, Role.viewer)[Role.auditor].allowed
    # An officer's role is the officer's to change, even towards viewer.
    assert role_options(admin, 2, Role.officer)[Role.viewer] == Option(False, "needs_officer")
    mine = role_options(admin, 1, Role.admin)
    assert mine[Role.admin].allowed and mine[Role.viewer] == Option(False, "own_account")


def test_account_actions() -> None:
    admin, officer, auditor = _p(Role.admin), _p(Role.officer), _p(Role.auditor)
    viewer = account_options(admin, 2, Role.viewer, has_totp=True)
    assert viewer.disable.allowed and viewer.grants.allowed and viewer.remove_totp.allowed
    assert viewer.tokens == Option(False, "not_agency") and not viewer.reset_at_console
    boss = account_options(admin, 3, Role.officer, has_totp=True)
    assert boss.remove_totp == Option(False, "privileged_console") and boss.reset_at_console
    assert boss.grants == Option(False, "no_grants_for_role")
    assert account_options(admin, 1, Role.admin, has_totp=False).disable == Option(
        False, "own_account"
    )
    assert account_options(admin, 4, Role.agency, has_totp=False).tokens.allowed
    by_officer = account_options(officer, 2, Role.viewer, has_totp=False)
    assert by_officer.grants.allowed and by_officer.disable == Option(False, "needs_admin")
    assert may_open_accounts(admin) and may_open_accounts(officer)
    assert not may_open_accounts(auditor) and not may_open_accounts(_p(Role.viewer))
    every = [
        o.reason
        for o in (*vars(viewer).values(), *vars(boss).values(), *vars(by_officer).values())
        if isinstance(o, Option) and not o.allowed
    ]
    assert set(every) <= set(REASONS)
