"""Helpers shared by the CLI modules: the --config option and error reporting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from appliance.errors import ApplianceError
from appliance.settings import CONFIG_ENV, Settings, load_settings

__all__ = ["ConfigOption", "console", "err_console", "load", "reported"]

console = Console()
err_console = Console(stderr=True)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help=f"Configuration TOML file (default: ${CONFIG_ENV}).",
        show_default=False,
    ),
]


def load(config: Path | None) -> Settings:
    """Load the configuration or exit 2 with the refusal's reason."""
    with reported():
        return load_settings(config)
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def reported(exit_code: int = 2) -> Iterator[None]:
    """Turn a domain error into one red line and a non-zero exit, never a traceback."""
    try:
        yield
    except ApplianceError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(exit_code) from exc
