"""The object store's access key: from a file (TOML, mode 0600) or the environment.

Never from the settings file and never logged: the settings name only where the key is.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from appliance.errors import ConfigError

__all__ = ["ENV_ACCESS_KEY_ID", "ENV_SECRET_ACCESS_KEY", "S3Credentials", "load_credentials"]

ENV_ACCESS_KEY_ID = "APPLIANCE_S3_ACCESS_KEY_ID"
ENV_SECRET_ACCESS_KEY = "APPLIANCE_S3_SECRET_ACCESS_KEY"  # noqa: S105 - a variable name


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)


def load_credentials(path: Path | None) -> S3Credentials:
    """Read ``access_key_id`` and ``secret_access_key`` from ``path``, or from the environment
    (``APPLIANCE_S3_ACCESS_KEY_ID``, ``APPLIANCE_S3_SECRET_ACCESS_KEY``) when ``path`` is None.

    ConfigError names what is missing, or a file that others may read.
    """
    if path is None:
        key_id = os.environ.get(ENV_ACCESS_KEY_ID, "")
        secret = os.environ.get(ENV_SECRET_ACCESS_KEY, "")
        if not key_id or not secret:
            raise ConfigError(
                f"storage.object_credentials_file is not set and {ENV_ACCESS_KEY_ID} / "
                f"{ENV_SECRET_ACCESS_KEY} are not both in the environment"
            )
        return S3Credentials(key_id, secret)
    try:
        mode = path.stat().st_mode
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"storage.object_credentials_file {path}: {exc}") from exc
    if mode & 0o077:
        raise ConfigError(
            f"storage.object_credentials_file {path}: readable by others (mode "
            f"{mode & 0o777:o}); chmod 600"
        )
    found_id, found_secret = data.get("access_key_id"), data.get("secret_access_key")
    if not (isinstance(found_id, str) and isinstance(found_secret, str)):
        found_id = found_secret = ""
    if not found_id or not found_secret:
        raise ConfigError(
            f"storage.object_credentials_file {path}: needs access_key_id and secret_access_key"
        )
    return S3Credentials(found_id, found_secret)
