"""The web daemon's uvicorn believes ``X-Forwarded-Proto``/``-For`` from
``server.trusted_proxies`` only, and HSTS follows the scheme it believed; a bad proxy address is
refused at load, naming the field."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

import pytest

from api.daemon import WebDaemon
from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.errors import ConfigError
from appliance.settings import Settings, load_settings
from tests.support.config import base_config, write_toml


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hsts(port: int, forwarded: bool) -> str | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/login", headers={"X-Forwarded-Proto": "https"} if forwarded else {})
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 200
    return response.headers.get("Strict-Transport-Security")


@pytest.mark.parametrize(("trusted", "believed"), [(["10.0.0.1"], False), (["127.0.0.0/8"], True)])
def test_forwarded_https_is_believed_from_a_trusted_proxy_only(
    tmp_path: Path, trusted: list[str], believed: bool
) -> None:
    data = base_config(tmp_path)
    port = _free_port()
    data["server"] = {"port": port, "trusted_proxies": trusted, "behind_tls_proxy": True}
    settings = Settings(**data)
    initialize(settings, SystemClock(), insecure_no_passphrase=True)
    ctx = AppContext.open(settings, SystemClock())
    web = WebDaemon(ctx)
    web.start()
    try:
        assert web.listening  # start() returned once uvicorn listened
        assert _hsts(port, forwarded=False) is None  # plain HTTP: no HSTS
        assert _hsts(port, forwarded=True) == ("max-age=31536000" if believed else None)
    finally:
        web.stop()
        ctx.close()


def test_a_proxy_that_is_not_an_address_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["server"] = {"trusted_proxies": ["127.0.0.1", "proxy.lan"]}
    with pytest.raises(ConfigError, match=r"server\.trusted_proxies.*'proxy\.lan'"):
        load_settings(write_toml(tmp_path, data))
