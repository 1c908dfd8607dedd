"""Roles and permissions as pure functions (deny by default, R-SEC-2 minimum rights).

Routes admit roles through ``api.security.require``; the domain layer checks the finer
rules here (which cameras a principal may see or view) so a route cannot widen them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from appliance.models import Role

__all__ = [
    "ALL_ROLES",
    "FOOTAGE_ROLES",
    "PRIVILEGED_ROLES",
    "Permission",
    "Scope",
    "may_see_camera",
    "may_view_camera",
    "permits",
    "roles_with",
    "visible_cameras",
]

ALL_ROLES: tuple[Role, ...] = tuple(Role)


class Permission(StrEnum):
    """What a role may do, independent of which camera."""

    manage_accounts = "manage_accounts"  # create, change, disable accounts; issue API tokens
    manage_grants = "manage_grants"  # grant and revoke cameras to people
    read_annex = "read_annex"  # the access-rights annex (R-DOC-3)
    view_footage = "view_footage"  # open viewing sessions (cameras still need a grant)
    view_any_camera = "view_any_camera"  # no per-camera grant needed (the video officer)
    read_timeline = "read_timeline"  # recorded ranges, gaps, holds (metadata, no video)
    see_any_camera = "see_any_camera"  # camera metadata of every camera
    read_ledger = "read_ledger"  # the management and destruction ledgers' rows
    verify_ledger = "verify_ledger"  # run the chain verification, read the latest signed head
    sign_ledger_head = "sign_ledger_head"  # make and export a signed head now
    agency_api = "agency_api"  # submit and follow its own requests, download their copies
    manage_requests = "manage_requests"  # receive, decide, notify, fulfil, close requests
    read_requests = "read_requests"  # every request, its notices and exports (no documents)
    own_account = "own_account"  # sign out, one's own password and TOTP: every role
    staff_pages = "staff_pages"  # the staff web viewer's pages (an agency uses its token only)
    # make someone an officer or admin, or change such a role (issue 13: not an admin's own call)
    assign_privileged_roles = "assign_privileged_roles"
    # type the vault passphrase on a page after a power cut (issue 15)
    unlock_vault = "unlock_vault"
    # health and alarms (issue 15): status only, never video
    read_health = "read_health"  # the health page, its JSON and the open alarms
    acknowledge_alarms = "acknowledge_alarms"  # acknowledge an alarm with a note (ledgered)
    # the operating policy, signs and annex (issue 17)
    read_policy = "read_policy"  # render the policy, signs and annex; the version history
    publish_policy = "publish_policy"  # publish a version (the officer answers for the text)


_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(
        {
            Permission.manage_accounts,
            Permission.manage_grants,
            Permission.read_annex,
            Permission.view_footage,  # only the cameras granted to this admin
            Permission.read_timeline,
            Permission.see_any_camera,
            Permission.verify_ledger,
            Permission.sign_ledger_head,
            Permission.unlock_vault,
            Permission.read_health,
            Permission.acknowledge_alarms,
            Permission.read_policy,
        }
    ),
    Role.officer: frozenset(
        {
            Permission.manage_grants,
            Permission.read_annex,
            Permission.view_footage,
            Permission.view_any_camera,
            Permission.read_timeline,
            Permission.see_any_camera,
            Permission.read_ledger,
            Permission.verify_ledger,
            Permission.sign_ledger_head,
            Permission.manage_requests,
            Permission.read_requests,
            Permission.assign_privileged_roles,
            Permission.unlock_vault,
            Permission.read_health,
            Permission.acknowledge_alarms,
            Permission.read_policy,
            Permission.publish_policy,
        }
    ),
    Role.viewer: frozenset({Permission.view_footage, Permission.read_timeline}),
    Role.auditor: frozenset(
        {
            Permission.read_annex,
            Permission.read_timeline,
            Permission.see_any_camera,
            Permission.read_ledger,
            Permission.verify_ledger,
            Permission.read_requests,
            Permission.read_health,  # read-only: acknowledging is for the roles that act
        }
    ),
    Role.agency: frozenset({Permission.agency_api}),
}

# Permissions every role (or every staff role) holds, rather than one that follows a job.
_HELD_BY: dict[Permission, frozenset[Role]] = {
    Permission.own_account: frozenset(Role),
    Permission.staff_pages: frozenset(Role) - {Role.agency},
}
_PERMISSIONS = {
    role: held | {p for p, roles in _HELD_BY.items() if role in roles}
    for role, held in _PERMISSIONS.items()
}

# Roles that can ever receive footage; an auditor or agency never does.
FOOTAGE_ROLES: tuple[Role, ...] = tuple(
    role for role in Role if Permission.view_footage in _PERMISSIONS[role]
)

# Roles that open every camera or can hand out access: assigning them, resetting their password
# or removing their second factor is the officer's (or the console's) call, never an admin's.
PRIVILEGED_ROLES: tuple[Role, ...] = (Role.admin, Role.officer)


class Scope(StrEnum):
    """What an agency's API token may do; a cookie session is not limited by scopes."""

    requests_read = "requests:read"
    requests_write = "requests:write"
    exports_read = "exports:read"


def permits(role: Role | str, permission: Permission) -> bool:
    """Whether ``role`` has ``permission``; an unknown role has none."""
    try:
        return permission in _PERMISSIONS[Role(role)]
    except ValueError:
        return False


def roles_with(permission: Permission) -> tuple[Role, ...]:
    """The roles that have ``permission``, for a route's ``require(...)``."""
    return tuple(role for role in Role if permission in _PERMISSIONS[role])


def may_view_camera(role: Role | str, granted: Iterable[str], camera_id: str) -> bool:
    """Whether footage of ``camera_id`` may be served to this principal."""
    if not permits(role, Permission.view_footage):
        return False
    return permits(role, Permission.view_any_camera) or camera_id in set(granted)


def may_see_camera(role: Role | str, granted: Iterable[str], camera_id: str) -> bool:
    """Whether the camera's metadata and timeline may be shown (no video)."""
    if permits(role, Permission.see_any_camera):
        return True
    return may_view_camera(role, granted, camera_id)


def visible_cameras(role: Role | str, granted: Iterable[str], all_ids: Iterable[str]) -> list[str]:
    """The cameras out of ``all_ids`` whose metadata this principal may see, in order."""
    granted_set = set(granted)
    return [c for c in all_ids if may_see_camera(role, granted_set, c)]
