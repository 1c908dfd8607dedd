"""The permissions the API layer's own routes admit by (issue #11): once role sets in routes."""

from __future__ import annotations

from appliance.access import FOOTAGE_ROLES, Permission, permits, roles_with
from appliance.models import Role


def test_every_role_manages_its_own_account() -> None:
    assert roles_with(Permission.own_account) == tuple(Role)


def test_the_staff_pages_are_not_for_agencies() -> None:
    assert set(roles_with(Permission.staff_pages)) == set(Role) - {Role.agency}
    assert not permits(Role.agency, Permission.staff_pages)


def test_the_added_permissions_widen_nothing_else() -> None:
    assert set(FOOTAGE_ROLES) == {Role.admin, Role.officer, Role.viewer}
    assert roles_with(Permission.agency_api) == (Role.agency,)
    assert roles_with(Permission.manage_accounts) == (Role.admin,)
