"""Vault fixtures: the retention test cameras and a cheap argon2id cost."""

from __future__ import annotations

import pytest

from appliance.settings import Settings
from tests.appliance.retention.conftest import backend, make_ctx, retention_settings
from tests.conftest import SettingsFactory

__all__ = ["backend", "make_ctx"]


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return retention_settings(make_settings)
