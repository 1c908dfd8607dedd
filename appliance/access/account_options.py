"""What the accounts pages offer a principal, and why an option is off: pure decisions.

The pages show every action, each either enabled or disabled with its reason (so an
administrator sees that creating an officer is the officer's call, not that the option does not
exist). The same rules are enforced again by the services (``accounts_admin``, ``grants``,
``tokens``, ``privileged``); these functions only describe them. A reason is a short key the
pages translate (``accounts.reason.<key>``).
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.access.principal import Principal
from appliance.access.privileged import (
    is_privileged,
    may_assign_role,
    may_remove_totp,
    reset_is_shown,
)
from appliance.access.roles import Permission, permits
from appliance.models import Role

__all__ = [
    "REASONS",
    "AccountOptions",
    "Option",
    "account_options",
    "creatable_roles",
    "may_open_accounts",
    "role_options",
    "takes_grants",
]

# Every reason an option can be off for (each has its text in the pages' tables).
REASONS = (
    "needs_officer",  # officer and admin roles are assigned by the officer (or the console)
    "needs_admin",  # account administration is the administrator's
    "needs_grants",  # granting cameras needs manage_grants
    "own_account",  # nobody disables, re-roles or grants cameras to themselves
    "privileged_console",  # an officer's or admin's second factor is removed at the console
    "no_grants_for_role",  # the role views every camera, or none
    "not_agency",  # API tokens belong to agency accounts
    "no_totp",  # the account has no second factor to remove
)


@dataclass(frozen=True)
class Option:
    allowed: bool
    reason: str = ""  # one of REASONS when not allowed


_YES = Option(True)


def _no(reason: str) -> Option:
    assert reason in REASONS
    return Option(False, reason)


def may_open_accounts(principal: Principal) -> bool:
    """Whether the accounts pages are for this principal at all."""
    return any(
        principal.can(p)
        for p in (
            Permission.manage_accounts,
            Permission.manage_grants,
            Permission.assign_privileged_roles,
        )
    )


def takes_grants(role: Role | str) -> bool:
    """Whether an account of ``role`` is granted cameras one by one."""
    return permits(role, Permission.view_footage) and not permits(role, Permission.view_any_camera)


def _role_reason(principal: Principal, old: Role | str | None, new: Role) -> Option:
    if may_assign_role(principal, old, new):
        return _YES
    privileged = is_privileged(new) or (old is not None and is_privileged(old))
    return _no("needs_officer" if privileged else "needs_admin")


def creatable_roles(principal: Principal) -> dict[Role, Option]:
    """Each role, and whether ``principal`` may create an account of it."""
    return {role: _role_reason(principal, None, role) for role in Role}


def role_options(principal: Principal, user_id: int, current: Role | str) -> dict[Role, Option]:
    """Each role, and whether ``principal`` may move account ``user_id`` to it."""
    if user_id == principal.user_id:
        return {role: _YES if role == current else _no("own_account") for role in Role}
    return {
        role: _YES if role == current else _role_reason(principal, current, role) for role in Role
    }


@dataclass(frozen=True)
class AccountOptions:
    """The actions of the account page, each on or off with its reason."""

    edit_profile: Option
    disable: Option
    enable: Option
    reset_password: Option
    reset_at_console: bool  # the new password is not shown: the owner sets it at the console
    unlock: Option
    remove_totp: Option
    grants: Option
    tokens: Option


def account_options(
    principal: Principal, user_id: int, role: Role | str, *, has_totp: bool
) -> AccountOptions:
    """What ``principal`` may do to account ``user_id`` (of ``role``)."""
    admin = _YES if principal.can(Permission.manage_accounts) else _no("needs_admin")
    own = user_id == principal.user_id
    if not has_totp:
        remove_totp = _no("no_totp")
    elif not admin.allowed:
        remove_totp = admin
    elif not may_remove_totp(principal, user_id, role):
        remove_totp = _no("privileged_console")
    else:
        remove_totp = _YES
    if not principal.can(Permission.manage_grants):
        grants = _no("needs_grants")
    elif not takes_grants(role):
        grants = _no("no_grants_for_role")
    elif own:
        grants = _no("own_account")
    else:
        grants = _YES
    return AccountOptions(
        edit_profile=admin,
        disable=_no("own_account") if own and admin.allowed else admin,
        enable=admin,
        reset_password=admin,
        reset_at_console=not reset_is_shown(principal, role),
        unlock=admin,
        remove_totp=remove_totp,
        grants=grants,
        tokens=admin
        if permits(role, Permission.agency_api) or not admin.allowed
        else _no("not_agency"),
    )
