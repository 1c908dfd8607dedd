"""Configurations: the base test configuration and three ways to write one as TOML.

``write_toml`` writes any dict, ``to_toml`` returns the text (recorder CLI tests), and
``write_config`` writes loaded ``Settings`` back out (retention and vault CLI tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.settings import Settings

__all__ = ["SettingsFactory", "base_config", "to_toml", "write_config", "write_toml"]

SettingsFactory = Callable[..., Settings]


def base_config(tmp_path: Path, cameras: int = 3) -> dict[str, Any]:
    """A valid configuration as a dict (what a TOML file would hold)."""
    return {
        "site": {
            "name": "테스트의원",
            "address": "서울",
            "officer": {
                "name": "김보호",
                "department": "원장단",
                "title": "대표원장",
                "phone": "02-000-0000",
                "email": "officer@example.invalid",
            },
        },
        "storage": {
            "data_dir": str(tmp_path / "data"),
            "key_dir": str(tmp_path / "keys"),
            "min_free_bytes": 0,
            "alarm_free_bytes": 0,
        },
        # Tests never write to the host's syslog (test_heads runs its own receiver).
        "ledger": {"syslog_socket": ""},
        "groups": [
            {"name": "general", "min_days": 0, "max_days": 30},
            {
                "name": "operating-room",
                "min_days": 30,
                "max_days": 30,
                "disclosure": "operating_room",
            },
            {"name": "daycare", "min_days": 60, "max_days": 90},
        ],
        "cameras": [
            {
                "id": f"cam{i:02d}",
                "name": f"카메라 {i}",
                "location": f"1층 로비 {i}",
                "location_type": "lobby",
                "url": f"rtsp://127.0.0.1:8554/cam{i}",
                "group": "general",
            }
            for i in range(1, cameras + 1)
        ],
    }


def write_toml(tmp_path: Path, data: dict[str, Any]) -> Path:
    """A configuration dict as ``tmp_path/appliance.toml`` (any nesting of tables)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def table(prefix: str, body: dict[str, Any]) -> None:
        scalars = {
            k: v
            for k, v in body.items()
            if not isinstance(v, dict | list)
            or (isinstance(v, list) and not any(isinstance(x, dict) for x in v))
        }
        for key, val in scalars.items():
            lines.append(f"{key} = {value(val)}")
        for key, val in body.items():
            if isinstance(val, dict):
                lines.append(f"[{prefix}{key}]")
                table(f"{prefix}{key}.", val)
            elif isinstance(val, list) and any(isinstance(x, dict) for x in val):
                for item in val:
                    lines.append(f"[[{prefix}{key}]]")
                    table(f"{prefix}{key}.", item)

    table("", data)
    path = tmp_path / "appliance.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """Enough TOML for a configuration dict (tables, arrays of tables, scalars, lists)."""

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return repr(item)
        if isinstance(item, str):
            return json.dumps(item, ensure_ascii=False)
        return "[" + ", ".join(value(v) for v in item) + "]"

    def is_tables(item: Any) -> bool:
        return isinstance(item, list) and bool(item) and isinstance(item[0], dict)

    lines = [
        f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict) and not is_tables(v)
    ]
    for key, item in data.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            lines += ["", f"[{name}]", to_toml(item, f"{name}.")]
        elif is_tables(item):
            for table in item:
                lines += ["", f"[[{name}]]", to_toml(table, f"{name}.")]
    return "\n".join(lines)


def write_config(settings: Settings, tmp_path: Path) -> Path:
    """``settings`` as a TOML file, for the CLI."""

    def toml(value: object) -> str:
        return json.dumps(value, ensure_ascii=False)

    data = settings.model_dump(mode="json")
    lines: list[str] = []
    for section in ("site", "storage", "database", "vault", "retention"):
        body = dict(data[section])
        nested = {k: v for k, v in body.items() if isinstance(v, dict)}
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml(v)}" for k, v in body.items() if k not in nested and v is not None]
        for name, sub in nested.items():
            lines.append(f"[{section}.{name}]")
            lines += [f"{k} = {toml(v)}" for k, v in sub.items() if v is not None]
    for item_key in ("groups", "cameras"):
        for item in data[item_key]:
            lines.append(f"[[{item_key}]]")
            lines += [f"{k} = {toml(v)}" for k, v in item.items() if v is not None]
    path = tmp_path / "appliance.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
