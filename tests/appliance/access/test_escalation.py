"""Issue 13, finding 1: an administrator cannot become the video officer (or another admin).

Only the officer (or root at the appliance's console) assigns or changes the officer and admin
roles; a reset of a privileged account's password is not shown to whoever asked for it, and its
TOTP is removed only at the console; a new officer or admin raises an alarm.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import select

from appliance.access import AccessService, Principal, UserChanges
from appliance.alarms import AlarmKind
from appliance.context import AppContext
from appliance.errors import AuthenticationFailed, PermissionDenied
from appliance.models import Alarm, Role, User
from tests.support.users import PASSWORD

MakeUser = Callable[..., User]


def _as(access: AccessService, username: str) -> Principal:
    return access.login(username, PASSWORD).principal


def _alarms(ctx: AppContext) -> list[Alarm]:
    with ctx.db.session() as session:
        return list(
            session.exec(
                select(Alarm).where(Alarm.kind == AlarmKind.privileged_account.value)
            ).all()
        )


@pytest.mark.parametrize("role", [Role.officer, Role.admin])
def test_admin_cannot_create_a_privileged_account(
    access: AccessService, make_user: MakeUser, role: Role
) -> None:
    make_user("adm", Role.admin)
    admin = _as(access, "adm")
    with pytest.raises(PermissionDenied):
        access.create_user(admin, username="x", role=role, display_name="X", password=PASSWORD)
    with pytest.raises(PermissionDenied):
        access.create_user(admin, username="y", role=role, display_name="Y")


@pytest.mark.parametrize("role", [Role.officer, Role.admin])
def test_admin_cannot_promote_or_demote(
    access: AccessService, make_user: MakeUser, role: Role
) -> None:
    make_user("adm", Role.admin)
    make_user("adm2", Role.admin)
    target = make_user("nurse", Role.viewer)
    officer = make_user("off", Role.officer)
    admin = _as(access, "adm")
    assert target.id is not None and officer.id is not None
    with pytest.raises(PermissionDenied):
        access.update_user(admin, target.id, UserChanges(role=role))
    with pytest.raises(PermissionDenied):
        access.update_user(admin, officer.id, UserChanges(role=Role.viewer))
    # Harmless profile fields of an officer stay an administrator's job.
    assert access.update_user(admin, officer.id, UserChanges(phone="123")).phone == "123"


def test_officer_assigns_privileged_roles_and_an_alarm_is_raised(
    ctx: AppContext, access: AccessService, make_user: MakeUser
) -> None:
    make_user("off", Role.officer)
    target = make_user("nurse", Role.viewer)
    assert target.id is not None
    officer = _as(access, "off")
    access.update_user(officer, target.id, UserChanges(role=Role.officer))
    made, _ = access.create_user(officer, username="adm9", role=Role.admin, display_name="A")
    subjects = {a.subject for a in _alarms(ctx)}
    assert {f"user:{target.id}", f"user:{made.id}"} <= subjects


def test_root_at_the_console_creating_an_officer_raises_an_alarm(
    ctx: AppContext, access: AccessService, root: Principal
) -> None:
    user, _ = access.create_user(root, username="o2", role=Role.officer, display_name="O")
    assert [a.subject for a in _alarms(ctx)] == [f"user:{user.id}"]


def test_a_privileged_password_reset_is_not_shown_to_the_admin(
    access: AccessService, make_user: MakeUser, root: Principal
) -> None:
    make_user("adm", Role.admin)
    officer = make_user("off", Role.officer)
    viewer = make_user("nurse", Role.viewer)
    assert officer.id is not None and viewer.id is not None
    admin = _as(access, "adm")
    assert access.reset_password(admin, officer.id) is None
    # Neither the old password nor anything the admin saw signs the officer in.
    with pytest.raises(AuthenticationFailed):
        access.login("off", PASSWORD)
    # The officer gets a new one at the console, and must change it.
    shown = access.reset_password(root, officer.id)
    assert shown is not None
    assert access.login("off", shown).principal.must_change_password
    # A viewer's reset is still shown to the administrator.
    assert access.reset_password(admin, viewer.id)


def test_admin_cannot_remove_a_privileged_totp(
    access: AccessService, make_user: MakeUser, root: Principal
) -> None:
    make_user("adm", Role.admin)
    officer = make_user("off", Role.officer)
    assert officer.id is not None
    with access.db.session() as session:
        row = session.get(User, officer.id)
        assert row is not None
        row.totp_secret = "JBSWY3DPEHPK3PXP"
        session.add(row)
    admin = _as(access, "adm")
    with pytest.raises(PermissionDenied):
        access.totp_disable(admin, officer.id)
    access.totp_disable(root, officer.id)  # at the console
