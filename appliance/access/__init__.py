"""Staff accounts, roles, authentication, sessions, API tokens, TOTP and camera grants.

Decisions are pure functions (``roles``, ``lockout``, ``totp``, ``refusals``,
``sessions.expiry_reason``); ``AccessService`` runs the transactions and writes each change into
the ledger, joining one class per part (``login``, ``own_account``, ``accounts_admin``,
``grants``, ``tokens``).
See design/access.md.
"""

from appliance.access.accounts_admin import AnnexRow, UserChanges
from appliance.access.login import LoginResult
from appliance.access.principal import Principal, Via
from appliance.access.refusals import LoginRefusal
from appliance.access.roles import (
    ALL_ROLES,
    FOOTAGE_ROLES,
    Permission,
    Scope,
    may_see_camera,
    may_view_camera,
    permits,
    roles_with,
    visible_cameras,
)
from appliance.access.service import AccessService

__all__ = [
    "ALL_ROLES",
    "FOOTAGE_ROLES",
    "AccessService",
    "AnnexRow",
    "LoginRefusal",
    "LoginResult",
    "Permission",
    "Principal",
    "Scope",
    "UserChanges",
    "Via",
    "may_see_camera",
    "may_view_camera",
    "permits",
    "roles_with",
    "visible_cameras",
]
