"""The hand-over record page over HTTP (issue 20): the officer's printable record shows every
file's SHA-256 (the package file's and each member's), the scope and the masking, in Korean and
English, and each showing is in the ledger; every other role, an agency token and an anonymous
browser are refused, and nothing is recorded for them."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.web import translations
from appliance.context import AppContext
from appliance.export.package import open_package
from appliance.ledger import EventType
from appliance.settings import Settings
from tests.support.config import SettingsFactory
from tests.support.handover import CAMERAS, LEGAL_BASIS, LETTER, handed_copy
from tests.support.users import Login, Staff

HTML = {"Accept": "text/html"}
KO, EN = translations("ko"), translations("en")


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(requests={"export_kdf_strength": "interactive"})


def _reads(ctx: AppContext, rid: int) -> list[str]:
    entries = ctx.ledger.entries(refs=[str(rid)], events=[EventType.handover_record], limit=None)
    return [e.actor for e in entries]


def test_the_officer_prints_the_record_and_no_one_else_reads_it(
    ctx: AppContext, app: FastAPI, staff: Staff, login: Login
) -> None:
    copy = handed_copy(ctx)
    rid, made = copy.request_id, copy.export
    package = made.path.read_bytes()
    contents = open_package(package, "transport pass 1")
    members = {
        **contents.files,
        **contents.extras,
        "manifest.json": contents.manifest_bytes,
    }
    url = f"/requests/{rid}/handover-record"

    officer = login("officer1")
    detail = officer.get(f"/requests/{rid}", headers=HTML).text
    assert f'href="{url}?export={made.package_id}"' in detail  # linked from the request

    page = officer.get(f"{url}?export={made.package_id}", headers=HTML)
    assert page.status_code == 200, page.text
    text = page.text
    assert KO["handover.title"] in text and KO["handover.receiver"] in text
    assert hashlib.sha256(package).hexdigest() == made.sha256_hex
    assert made.sha256_hex in text and made.path.name in text
    for name, body in members.items():
        assert name in text, name
        assert hashlib.sha256(body).hexdigest() in text, name
        assert f"{len(body):,}" in text, name
    for camera in CAMERAS:
        assert f"<code>{camera}</code>" in text
    zone = ctx.settings.zone
    span = " ~ ".join(
        datetime.fromtimestamp(ms / 1000, tz=zone).strftime("%Y-%m-%d %H:%M:%S")
        for ms in (copy.start_ms, copy.end_ms)
    )
    assert f'<td id="record-range">{span} ({ctx.settings.site.timezone})</td>' in text
    assert LETTER in text and LEGAL_BASIS in text and "김수사 경위" in text and "USB 메모리" in text
    assert KO["handover.method_pixelate"] in text
    assert KO["handover.regions"].replace("{regions}", "3").replace("{exemptions}", "0") in text
    assert 'id="print-record"' in text and "/static/requests_print.js" in text

    english = officer.get(f"{url}?lang=en", headers=HTML).text  # the copy handed over
    assert EN["handover.title"] in english and EN["handover.method_pixelate"] in english
    assert made.sha256_hex in english and f"Basis stated in the request: {LEGAL_BASIS}" in english
    assert _reads(ctx, rid) == ["officer1", "officer1"]

    # Deny by default: pages send other roles home, the API answers 403/401.
    for username in ("auditor1", "viewer1", "admin1"):
        client = login(username)
        refused = client.get(url, headers=HTML, follow_redirects=False)
        assert refused.headers["location"] == "/?denied=1", username
        assert client.get(url).status_code == 403, username
        assert made.sha256_hex not in client.get(f"/requests/{rid}", headers=HTML).text
    anonymous = TestClient(app, follow_redirects=False)
    bearer = {"Authorization": f"Bearer {staff.agency_token}"}
    assert anonymous.get(url, headers={**bearer, **HTML}).status_code == 403
    assert anonymous.get(url, headers=HTML).status_code == 303
    assert _reads(ctx, rid) == ["officer1", "officer1"]

    # Another request's id, an unknown export: refused, not shown.
    assert officer.get(f"{url}?export=00000000").status_code == 404
    assert officer.get(f"{url}?export=not-hex").status_code == 422
    assert _reads(ctx, rid) == ["officer1", "officer1"]
