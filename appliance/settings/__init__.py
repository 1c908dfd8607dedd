"""The one typed configuration of the appliance.

A package of small modules, one per part of the tree: ``_base`` (the id pattern, location types,
disclosure rules), ``sections`` (the box: site, storage, database, server, recorder, ledger,
retention, vault, viewing), ``operations`` (requests, alarms, metrics), ``cameras`` (groups and
cameras); this module holds the root ``Settings`` with its cross-section checks and
``load_settings``, and re-exports every name, so ``from appliance.settings import X`` is the one
way in.

Loaded from a TOML file (``--config`` or ``APPLIANCE_CONFIG``) with environment overrides
(``APPLIANCE_<SECTION>__<FIELD>``, e.g. ``APPLIANCE_SERVER__PORT=8443``). Unknown keys are
errors. Every rule the law puts on the configuration (forbidden locations R-REC-2, retention
bounds R-RET-2 and the statutory minimums, audio consent R-REC-3) is checked at load, and a
refusal names the field.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from appliance.errors import ConfigError
from appliance.legal_minimums import legal_minimum
from appliance.settings._base import (
    CONFIG_ENV,
    FORBIDDEN_LOCATION_TYPES,
    ID_PATTERN,
    Disclosure,
    LocationType,
)
from appliance.settings.backup import BackupConfig
from appliance.settings.cameras import CameraConfig, GroupConfig
from appliance.settings.operations import (
    AlarmEmailConfig,
    AlarmsConfig,
    AlarmWebhookConfig,
    MetricsConfig,
    RequestsConfig,
)
from appliance.settings.recording import NodeConfig, RecorderConfig
from appliance.settings.sections import (
    DatabaseConfig,
    LedgerConfig,
    OfficerConfig,
    RetentionConfig,
    ServerConfig,
    SiteConfig,
    StorageConfig,
    VaultConfig,
    ViewingConfig,
)

__all__ = [
    "CONFIG_ENV",
    "FORBIDDEN_LOCATION_TYPES",
    "ID_PATTERN",
    "AlarmEmailConfig",
    "AlarmWebhookConfig",
    "AlarmsConfig",
    "BackupConfig",
    "CameraConfig",
    "DatabaseConfig",
    "Disclosure",
    "GroupConfig",
    "LedgerConfig",
    "LocationType",
    "MetricsConfig",
    "NodeConfig",
    "OfficerConfig",
    "RecorderConfig",
    "RequestsConfig",
    "RetentionConfig",
    "ServerConfig",
    "Settings",
    "SiteConfig",
    "StorageConfig",
    "VaultConfig",
    "ViewingConfig",
    "load_settings",
]


class Settings(BaseSettings):
    """Everything the appliance is configured with."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix="APPLIANCE_",
        env_nested_delimiter="__",
    )

    site: SiteConfig
    storage: StorageConfig = Field(default_factory=StorageConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    recorder: RecorderConfig = Field(default_factory=RecorderConfig)
    node: NodeConfig = Field(default_factory=NodeConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    vault: VaultConfig = Field(default_factory=VaultConfig)
    requests: RequestsConfig = Field(default_factory=RequestsConfig)
    viewing: ViewingConfig = Field(default_factory=ViewingConfig)
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    backup: BackupConfig = Field(default_factory=BackupConfig)
    groups: list[GroupConfig] = Field(min_length=1, description="Retention groups.")
    cameras: list[CameraConfig] = Field(default_factory=list, description="Cameras.")

    @model_validator(mode="after")
    def _references(self) -> Settings:
        _unique("groups", [g.name for g in self.groups], "name")
        _unique("cameras", [c.id for c in self.cameras], "id")
        groups = {g.name: g for g in self.groups}
        for index, camera in enumerate(self.cameras):
            group = groups.get(camera.group)
            if group is None:
                raise ValueError(
                    f"cameras[{index}].group: {camera.group!r} is not a defined group "
                    f"(defined: {', '.join(sorted(groups))})"
                )
            _check_legal_minimum(index, camera, group)
            if self.retention.day_s != DAY_S and legal_minimum(camera.location_type.value):
                raise ValueError(
                    f"retention.day_s: {self.retention.day_s} shortens the retention day, and "
                    f"cameras[{index}] ({camera.id!r}, {camera.location_type.value}) must keep "
                    "its footage a legal minimum of whole days (tests and benchmarks only)"
                )
        return self

    @property
    def database_url(self) -> str:
        """The configured URL, or the embedded SQLite file in the data dir."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.storage.data_dir / 'appliance.db'}"

    @property
    def segments_dir(self) -> Path:
        return self.storage.segments_dir or self.storage.data_dir / "segments"

    @property
    def exports_dir(self) -> Path:
        return self.storage.data_dir / "exports"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def group(self, name: str) -> GroupConfig:
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)

    def preferred_node(self, camera: CameraConfig) -> str:
        """The node a camera is configured to (its own ``node``, else its group's), or ""."""
        return camera.node or self.group(camera.group).node

    def camera(self, camera_id: str) -> CameraConfig:
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise KeyError(camera_id)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file; the file's values come in through init_settings.
        return (env_settings, init_settings)


DAY_S = 86_400  # retention.day_s everywhere but tests and benchmarks


def _check_legal_minimum(index: int, camera: CameraConfig, group: GroupConfig) -> None:
    """Refuse a camera whose group cannot keep its footage as long as the law requires."""
    minimum = legal_minimum(camera.location_type.value)
    if minimum is None:
        return
    for bound in ("max_days", "min_days"):
        days = getattr(group, bound)
        if days < minimum.min_days:
            raise ValueError(
                f"cameras[{index}]: camera {camera.id!r} ({camera.location_type.value}) is in "
                f"group {group.name!r} whose {bound} ({days}) is below the legal minimum for "
                f"{camera.location_type.value} footage, {minimum.describe()}"
            )


def _unique(section: str, values: list[str], field: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ValueError(f"{section}[{index}].{field}: {value!r} is duplicated")
        seen.add(value)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]
        ).lstrip(".")
        message = re.sub(r"^(Value error|Assertion failed), ", "", item["msg"])
        lines.append(f"{loc or '(top level)'}: {message}")
    return "; ".join(lines)


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Load and check the configuration; raise ConfigError naming the bad field."""
    if path is None:
        env_path = os.environ.get(CONFIG_ENV)
        if not env_path:
            raise ConfigError(f"no configuration: pass --config or set {CONFIG_ENV}")
        path = env_path
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from exc
