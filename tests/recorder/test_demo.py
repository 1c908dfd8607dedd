"""``make demo`` prints, beside the first admin, a demo-only officer who can sign in and reach
every camera's footage, the request desk and the health page without an API call."""

from __future__ import annotations

from appliance.access import AccessService, Permission, Principal
from appliance.context import AppContext
from appliance.models import Role
from recorder.demo import DEMO_OFFICER, demo_officer


def test_demo_officer_signs_in_as_an_officer_marked_demo_only(ctx: AppContext) -> None:
    username, password = demo_officer(ctx)
    assert username == DEMO_OFFICER and len(password) >= 12
    access = AccessService(ctx.db, ctx.clock, ctx.settings.server, ctx.ledger)
    principal = access.login(username, password).principal
    assert principal.role is Role.officer
    assert principal.can(Permission.view_any_camera) and principal.can(Permission.manage_requests)
    user = access.get_user(Principal.local("t"), principal.user_id)
    assert "demo only" in user.display_name.lower() and user.title == "DEMO ONLY"
