"""The example configuration (deploy/appliance.example.toml) on a temporary box, for the policy
tests: its settings with the data and key dirs moved under ``tmp_path``, an initialised context,
and a ``PolicyService`` on it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from appliance.cli.main import initialize
from appliance.clock import Clock
from appliance.context import AppContext
from appliance.policy import PolicyService
from appliance.settings import Settings

__all__ = ["EXAMPLE_CONFIG", "example_data", "example_service", "example_settings"]

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "appliance.example.toml"


def example_data(tmp_path: Path) -> dict[str, Any]:
    """The example configuration as a dict, with its dirs under ``tmp_path`` and no syslog."""
    data = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["storage"].update(data_dir=str(tmp_path / "data"), key_dir=str(tmp_path / "keys"))
    data["storage"].update(min_free_bytes=0, alarm_free_bytes=0)
    data["ledger"]["syslog_socket"] = ""
    return data


def example_settings(tmp_path: Path, data: dict[str, Any] | None = None) -> Settings:
    return Settings(**(data if data is not None else example_data(tmp_path)))


def example_service(settings: Settings, clock: Clock | None = None) -> PolicyService:
    """An initialised box (no passphrase: tests) and its policy service."""
    initialize(settings, clock, insecure_no_passphrase=True)
    ctx = AppContext.open(settings, clock)
    return PolicyService.of(ctx)
