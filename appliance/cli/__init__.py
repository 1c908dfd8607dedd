"""The ``appliance`` command.

Each domain adds its commands through a ``register(app)`` function in its own module under
``appliance/cli/`` (listed below); ``recorder`` and ``api`` add theirs through the
``appliance.cli`` entry-point group, so the core never imports them.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import typer

from appliance.cli.backup import register as _register_backup
from appliance.cli.export import register as _register_export
from appliance.cli.ledger import register as _register_ledger
from appliance.cli.main import register as _register_core
from appliance.cli.policy import register as _register_policy
from appliance.cli.retention import register as _register_retention
from appliance.cli.users import register as _register_users
from appliance.cli.vault import register as _register_vault

app = typer.Typer(
    name="appliance",
    help="On-prem CCTV appliance: encrypted recording, retention, ledger, requests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _private_files() -> None:
    """Files the appliance creates are readable by its own user only."""
    os.umask(0o077)


# One line per domain module of the core that contributes commands.
for _register in (
    _register_core,
    _register_backup,
    _register_export,
    _register_ledger,
    _register_policy,
    _register_retention,
    _register_users,
    _register_vault,
):
    _register(app)

for _point in sorted(entry_points(group="appliance.cli"), key=lambda p: p.name):
    _point.load()(app)

__all__ = ["app"]
