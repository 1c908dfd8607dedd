"""A web server reachable from the network speaks TLS, or says a TLS proxy is in front
(issue 13, finding 8): a non-loopback ``server.host`` without ``tls_cert`` is refused at load,
naming the field, unless ``server.behind_tls_proxy = true``, which also makes cookies Secure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from appliance.context import AppContext
from appliance.errors import ConfigError
from appliance.settings import ServerConfig, load_settings
from tests.support.config import base_config, write_toml
from tests.support.users import PASSWORD, Staff


def _load(tmp_path: Path, **server: Any) -> ServerConfig:
    data = base_config(tmp_path)
    data["server"] = server
    return load_settings(write_toml(tmp_path, data)).server


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.0.10", "::", "cctv.clinic.local"])
def test_a_network_address_without_tls_is_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(ConfigError, match=r"server\.host") as info:
        _load(tmp_path, host=host)
    assert "behind_tls_proxy" in str(info.value) and "tls_cert" in str(info.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_needs_no_tls(tmp_path: Path, host: str) -> None:
    server = _load(tmp_path, host=host)
    assert server.host == host and not server.secure_cookie


def test_tls_or_a_declared_proxy_admits_a_network_address(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    with_tls = _load(tmp_path, host="0.0.0.0", tls_cert=str(cert), tls_key=str(key))
    assert with_tls.secure_cookie
    proxied = _load(tmp_path, host="192.168.0.10", behind_tls_proxy=True)
    assert proxied.behind_tls_proxy and proxied.secure_cookie


def test_a_proxy_with_insecure_cookies_is_a_contradiction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cookie_secure"):
        _load(tmp_path, host="0.0.0.0", behind_tls_proxy=True, cookie_secure=False)


def test_behind_a_tls_proxy_the_session_cookie_is_secure(ctx: AppContext, staff: Staff) -> None:
    server = ServerConfig(host="0.0.0.0", behind_tls_proxy=True)
    ctx.settings = ctx.settings.model_copy(update={"server": server})
    with TestClient(create_app(ctx)) as client:
        response = client.post(
            "/api/auth/login", json={"username": "viewer1", "password": PASSWORD}
        )
    assert response.status_code == 200, response.text
    assert "Secure" in response.headers["set-cookie"]
