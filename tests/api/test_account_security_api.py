"""TOTP enrolment over HTTP with a QR code drawn on the appliance and recovery codes; the vault
unlocked from a page's API call: only over HTTPS or from loopback, rate-limited, ledgered."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.security import CSRF_HEADER
from appliance.access import totp
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.vault.web_unlock import MAX_ATTEMPTS, UnlockAttempts, channel_refusal, is_loopback
from tests.support.users import PASSWORD, Login, Staff

PASSPHRASE = "power cut passphrase"


def _qr_text(data_uri: str) -> str:
    assert data_uri.startswith("data:image/png;base64,")
    raw = np.frombuffer(base64.b64decode(data_uri.split(",", 1)[1]), np.uint8)
    image = cv2.imdecode(raw, cv2.IMREAD_GRAYSCALE)
    assert image is not None
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)


def test_qr_enrolment_and_recovery_codes_over_http(
    login: Login, staff: Staff, clock: FakeClock, app: FastAPI, ctx: AppContext
) -> None:
    client = login("viewer1")
    setup = client.post("/api/auth/totp/setup").json()
    uri = _qr_text(setup["qr_png"])
    assert uri == setup["otpauth_uri"] and setup["secret"] in uri
    secret = uri.split("secret=")[1].split("&")[0]
    confirmed = client.post(
        "/api/auth/totp/confirm", json={"code": totp.totp(secret, clock.now_ms())}
    )
    assert confirmed.status_code == 200
    codes = confirmed.json()["codes"]
    assert len(codes) == 10
    clock.advance(30)
    with TestClient(app) as other:
        body = {"username": "viewer1", "password": PASSWORD, "totp_code": codes[0]}
        assert other.post("/api/auth/login", json=body).status_code == 200
    with TestClient(app) as again:
        assert again.post("/api/auth/login", json=body).status_code == 401  # spent
    # A new set with a current code; the old set stops working.
    clock.advance(30)
    fresh = client.post(
        "/api/auth/totp/recovery-codes", json={"code": totp.totp(secret, clock.now_ms())}
    )
    assert fresh.status_code == 200 and not set(fresh.json()["codes"]) & set(codes)
    with TestClient(app) as third:
        body["totp_code"] = codes[1]
        assert third.post("/api/auth/login", json=body).status_code == 401
    used = [
        e.data
        for e in ctx.ledger.entries(events=(EventType.login_success,), limit=None)
        if e.data.get("recovery_code")
    ]
    assert [u["recovery_codes_left"] for u in used] == [9]


def test_channel_rules() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.1.2.3")
    assert not is_loopback("10.0.0.5") and not is_loopback("localhost") and not is_loopback("")
    assert channel_refusal("https", "10.0.0.5") is None
    assert channel_refusal("http", "127.0.0.1") is None
    refused = channel_refusal("http", "10.0.0.5")
    assert refused is not None and "only over HTTPS or from the appliance itself" in refused


def test_attempt_window() -> None:
    attempts = UnlockAttempts(limit=2, window_s=60)
    assert attempts.retry_after_s(0) == 0
    attempts.add(0)
    attempts.add(10_000)
    assert attempts.retry_after_s(20_000) == 40
    assert attempts.retry_after_s(60_000) == 0  # the first has left the window


def _client(app: FastAPI, login: Login, **kwargs: object) -> TestClient:
    # A signed-in admin's cookie and CSRF token on a client with another peer or scheme.
    signed = login("admin1")
    client = TestClient(app, **kwargs)  # type: ignore[arg-type]
    client.cookies = signed.cookies
    client.headers[CSRF_HEADER] = signed.headers[CSRF_HEADER]
    return client


def test_vault_unlock_only_over_tls_or_loopback_and_rate_limited(
    app: FastAPI, login: Login, staff: Staff, ctx: AppContext, clock: FakeClock
) -> None:
    ctx.vault.set_passphrase(PASSPHRASE)
    ctx.vault_keeper.lock("test")
    assert not ctx.vault.is_unlocked
    # Plain HTTP from another machine: refused with the reason, and recorded.
    remote = _client(app, login, client=("10.0.0.5", 40000))
    status = remote.get("/api/vault").json()
    assert status["unlocked"] is False and "10.0.0.5" in status["channel_refusal"]
    refused = remote.post("/api/vault/unlock", json={"passphrase": PASSPHRASE})
    assert refused.status_code == 403 and "only over HTTPS" in refused.json()["detail"]
    assert not ctx.vault.is_unlocked
    # A viewer may not even ask.
    assert login("viewer1").get("/api/vault").status_code == 403
    # From loopback: wrong passphrases count; past the limit even the right one waits.
    local = _client(app, login, client=("127.0.0.1", 40001))
    assert local.get("/api/vault").json()["channel_refusal"] is None
    for _ in range(MAX_ATTEMPTS):
        wrong = local.post("/api/vault/unlock", json={"passphrase": "not the passphrase"})
        assert wrong.status_code == 401
    throttled = local.post("/api/vault/unlock", json={"passphrase": PASSPHRASE})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert not ctx.vault.is_unlocked
    clock.advance(15 * 60)
    # Over HTTPS from elsewhere is as good as loopback.
    tls = _client(app, login, client=("10.0.0.5", 40002), base_url="https://testserver")
    done = tls.post("/api/vault/unlock", json={"passphrase": PASSPHRASE})
    assert done.status_code == 200 and done.json()["unlocked"] is True
    assert ctx.vault.is_unlocked
    reasons = [
        e.data["reason"] for e in ctx.ledger.entries(events=(EventType.login_failure,), limit=None)
    ]
    assert reasons.count("wrong vault passphrase") == MAX_ATTEMPTS
    assert "vault unlock refused: not over TLS or from loopback" in reasons
    assert "vault unlock refused: too many attempts" in reasons
    unlocked = ctx.ledger.entries(events=(EventType.vault_unlocked,), limit=None)
    assert unlocked[-1].actor == "admin1"


@pytest.mark.parametrize("path", ["/api/vault", "/api/vault/unlock"])
def test_vault_routes_need_a_sign_in(anonymous: TestClient, path: str) -> None:
    method = anonymous.get if path == "/api/vault" else anonymous.post
    assert method(path).status_code == 401
