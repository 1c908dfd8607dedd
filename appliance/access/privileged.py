"""Who may touch the privileged roles (officer, admin): pure decisions (issue 13, finding 1).

An administrator manages accounts but must not be able to become the video officer, who opens
every camera: assigning or changing the officer and admin roles is the officer's call (the
``assign_privileged_roles`` permission), and a privileged account's password reset or second
factor removal by someone else is never shown to that someone. Root at the appliance's console
(``Via.local``) may do all of it: it already holds the database and the vault's keys, and it is
the recovery path when the only officer has left (see design/access.md).
"""

from __future__ import annotations

from appliance.access.principal import Principal, Via
from appliance.access.roles import PRIVILEGED_ROLES, Permission
from appliance.models import Role

__all__ = ["is_privileged", "may_assign_role", "may_remove_totp", "reset_is_shown"]


def is_privileged(role: Role | str) -> bool:
    """Whether ``role`` is officer or admin."""
    return role in {r.value for r in PRIVILEGED_ROLES}


def may_assign_role(principal: Principal, old: Role | str | None, new: Role | str) -> bool:
    """Whether ``principal`` may give an account the role ``new`` (``old``: None when created)."""
    if principal.via is Via.local:
        return True
    if is_privileged(new) or (old is not None and is_privileged(old)):
        return principal.can(Permission.assign_privileged_roles)
    return principal.can(Permission.manage_accounts)


def reset_is_shown(principal: Principal, target_role: Role | str) -> bool:
    """Whether the new password of a reset is shown to ``principal`` (else only the console)."""
    return principal.via is Via.local or not is_privileged(target_role)


def may_remove_totp(principal: Principal, target_user_id: int, target_role: Role | str) -> bool:
    """Whether ``principal`` may remove the second factor of someone else's account."""
    if target_user_id == principal.user_id:
        return True
    if principal.via is Via.local:
        return True
    return principal.can(Permission.manage_accounts) and not is_privileged(target_role)
