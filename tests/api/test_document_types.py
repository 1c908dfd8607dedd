"""The document upload route judges a file by its content (issue 13, finding 8): anything but
PDF, JPEG or PNG is a 422 with the reason and nothing is stored; a kept file is recorded with
the type its content shows, not the one it claimed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from appliance.clock import FakeClock
from appliance.context import AppContext
from tests.support.users import Login, Staff

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
HOUR_MS = 3_600_000


def test_the_api_refuses_by_content_and_stores_the_real_type(
    ctx: AppContext, clock: FakeClock, staff: Staff, login: Login
) -> None:
    officer: TestClient = login("officer1")
    now = clock.now_ms()
    created = officer.post(
        "/api/requests",
        json={
            "kind": "viewing",
            "requester_kind": "delegate",
            "requester_name": "김대리",
            "camera_ids": ["cam01"],
            "start_ms": now - HOUR_MS,
            "end_ms": now,
        },
    )
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    path = f"/api/requests/{rid}/documents"
    html = b"<html><script>alert(document.cookie)</script></html>"
    refused = officer.post(
        path, data={"kind": "other"}, files={"file": ("위임장.pdf", html, "application/pdf")}
    )
    assert refused.status_code == 422 and "PDF, JPEG or PNG" in refused.text
    assert officer.get(path).json() == []
    # A real PNG sent as octet-stream is kept, and recorded as what it is.
    kept = officer.post(
        path, data={"kind": "other"}, files={"file": ("scan", PNG, "application/octet-stream")}
    )
    assert kept.status_code == 201, kept.text
    assert kept.json()["content_type"] == "image/png"
    read = officer.get(f"{path}/{kept.json()['id']}")
    assert read.status_code == 200 and read.content == PNG
