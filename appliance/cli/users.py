"""``appliance user``: staff accounts from the appliance's own console (recorded in the ledger).

The operator at the console acts as an administrator (``cli:<login name>`` in the ledger);
every change goes through ``AccessService`` like the web's, with the same rules.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from appliance.access import AccessService, Principal, Scope
from appliance.cli._common import ConfigOption, console, load, reported
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import Role

__all__ = ["register"]

user_app = typer.Typer(help="Staff accounts, camera grants, agency tokens.", no_args_is_help=True)


@contextmanager
def _service(config: ConfigOption) -> Iterator[tuple[AccessService, Principal, AppContext]]:
    settings = load(config)
    with reported():
        ctx = AppContext.open(settings)
        try:
            access = AccessService(ctx.db, ctx.clock, settings.server, ctx.ledger)
            yield access, Principal.local(getpass.getuser()), ctx
        finally:
            ctx.close()


def _ms(value: int | None) -> str:
    if not value:
        return ""
    return datetime.fromtimestamp(value / 1000).astimezone().strftime("%Y-%m-%d %H:%M")


@user_app.command("add")
def add(
    username: str,
    role: Annotated[Role, typer.Option(help="admin, officer, viewer, auditor or agency.")],
    name: Annotated[str, typer.Option(help="Display name (the annex lists it).")],
    department: Annotated[str, typer.Option(help="Department (annex 1).")] = "",
    title: Annotated[str, typer.Option(help="Job title (annex 1).")] = "",
    phone: Annotated[str, typer.Option(help="Contact phone (annex 1).")] = "",
    email: str = "",
    config: ConfigOption = None,
) -> None:
    """Add an account; its generated password is printed once and must be changed."""
    with _service(config) as (access, me, _):
        user, password = access.create_user(
            me,
            username=username,
            role=role,
            display_name=name,
            department=department,
            title=title,
            phone=phone,
            email=email,
        )
    console.print(f"added {user.username} ({user.role}), id {user.id}")
    console.print(f"[bold]password:[/] {password}  (shown once; changed at first sign-in)")


@user_app.command("list")
def list_users(config: ConfigOption = None) -> None:
    """Every account with its role, annex details and state."""
    with _service(config) as (access, me, ctx):
        users = access.list_users(me)
        grants = {u.id: access.granted_cameras(u.id) for u in users if u.id is not None}
        now = ctx.clock.now_ms()
        # Reading staff records is an access (R-SEC-3): ledgered before anything is shown, and
        # nothing is shown if the entry cannot be written (LedgerUnavailable, exit 2).
        ctx.ledger.append(
            EventType.accounts_read, actor=me.actor, data={"rows": len(users), "via": "cli"}
        )
    table = Table(title=f"{len(users)} accounts")
    for column in ("id", "username", "name", "role", "department", "title", "phone", "state"):
        table.add_column(column)
    table.add_column("cameras")
    for user in users:
        state = "disabled" if user.disabled else "enabled"
        if user.locked_until_ms > now:
            state += f", locked until {_ms(user.locked_until_ms)}"
        if user.totp_secret:
            state += ", TOTP"
        table.add_row(
            str(user.id),
            user.username,
            user.display_name,
            user.role,
            user.department,
            user.title,
            user.phone,
            state,
            " ".join(grants.get(user.id or 0, [])),
        )
    console.print(table)


@user_app.command("disable")
def disable(
    username: str,
    reason: Annotated[str, typer.Option(help="Recorded in the ledger.")] = "",
    config: ConfigOption = None,
) -> None:
    """Disable an account: its sessions end, its API tokens are revoked."""
    with _service(config) as (access, me, _):
        access.set_disabled(me, access.user_id_by_name(username), True, reason)
    console.print(f"{username} disabled")


@user_app.command("enable")
def enable(username: str, config: ConfigOption = None) -> None:
    """Enable a disabled account again."""
    with _service(config) as (access, me, _):
        access.set_disabled(me, access.user_id_by_name(username), False)
    console.print(f"{username} enabled")


@user_app.command("grant")
def grant(
    username: str,
    cameras: Annotated[list[str], typer.Argument(help="Camera ids.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke instead of grant.")] = False,
    config: ConfigOption = None,
) -> None:
    """Grant (or revoke) cameras to a viewer (R-SEC-2: per person, minimum rights)."""
    with _service(config) as (access, me, _):
        user_id = access.user_id_by_name(username)
        if revoke:
            now = access.change_grants(me, user_id, revoke=cameras)
        else:
            now = access.change_grants(me, user_id, add=cameras)
    console.print(f"{username} may view: {' '.join(now) or '(no camera)'}")


@user_app.command("reset-password")
def reset_password(username: str, config: ConfigOption = None) -> None:
    """Generate a new password (shown once); the account's sessions end.

    This is also how an officer or admin gets a new password after someone else reset it
    (the web never shows theirs to whoever asked)."""
    with _service(config) as (access, me, _):
        password = access.reset_password(me, access.user_id_by_name(username))
    assert password is not None  # the console is always shown the new password
    console.print(f"[bold]new password for {username}:[/] {password}  (changed at next sign-in)")


@user_app.command("unlock")
def unlock(username: str, config: ConfigOption = None) -> None:
    """Lift a lockout after failed sign-ins."""
    with _service(config) as (access, me, _):
        access.unlock(me, access.user_id_by_name(username))
    console.print(f"{username} unlocked")


@user_app.command("totp")
def totp_off(
    username: str,
    off: Annotated[bool, typer.Option("--off", help="Remove the account's TOTP.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show whether TOTP is on; ``--off`` removes it (lost phone). Users enrol on the web."""
    with _service(config) as (access, me, _):
        user_id = access.user_id_by_name(username)
        if off:
            access.totp_disable(me, user_id)
            console.print(f"TOTP removed for {username}")
            return
        enabled = access.get_user(me, user_id).totp_secret is not None
    console.print(f"TOTP for {username}: {'on' if enabled else 'off'}")


@user_app.command("token")
def token(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for (case, letter no.).")],
    scope: Annotated[
        list[Scope], typer.Option(help="requests:read, requests:write, exports:read.")
    ],
    days: Annotated[int, typer.Option(help="Days until it expires.")] = 90,
    config: ConfigOption = None,
) -> None:
    """Issue an API token to an agency account (shown once; stored as a digest)."""
    with _service(config) as (access, me, _):
        issued = access.issue_token(
            me, access.user_id_by_name(username), name=name, scopes=scope, ttl_days=days
        )
    console.print(f"token {issued.row.id} for {username}, expires {_ms(issued.row.expires_ms)}")
    console.print(f"[bold]{issued.token}[/]  (shown once)")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
