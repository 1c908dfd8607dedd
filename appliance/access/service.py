"""``AccessService``: accounts, logins, grants and tokens behind one front.

Every method runs one transaction of its own; a change and its ledger entry commit together
(a ledger that cannot be written refuses the change). Methods that act for someone take the
acting ``Principal`` and check its permission there too, so no caller can widen a rule.

The work is done in one module per part, each a class over the same database, clock,
configuration and ledger (``_shared.AccessBase``); this class only joins them, so routes, the
CLI and tests keep one object:

- ``login.LoginService``: sign-in, sessions, logout, CSRF;
- ``own_account.OwnAccountService``: one's own password and TOTP;
- ``accounts_admin.AccountService``: account administration and the access annex;
- ``grants.GrantService``: camera grants;
- ``tokens.TokenService``: agency API tokens.
"""

from __future__ import annotations

from appliance.access.accounts_admin import AccountService, AnnexRow, UserChanges
from appliance.access.grants import GrantService
from appliance.access.login import LoginResult, LoginService
from appliance.access.own_account import OwnAccountService
from appliance.access.tokens import TokenService

__all__ = ["AccessService", "AnnexRow", "LoginResult", "UserChanges"]


class AccessService(LoginService, OwnAccountService, AccountService, GrantService, TokenService):
    """Authentication and account administration over one database, clock and ledger."""
