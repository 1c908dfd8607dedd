"""The pages without a browser: translation tables, language choice, deny by default for pages
(a browser is sent to sign in, an API client gets 401/403), static files, security headers."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.pages import safe_next
from api.web import LANGUAGES, STATIC_DIR, TEMPLATES_DIR, choose_language, translations
from appliance.access import Principal, Scope
from appliance.context import AppContext
from appliance.models import Role
from appliance.recorder_state import CameraState
from appliance.viewing import LABELS_KO, PurposeCategory

PASSWORD = "correct horse battery"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# t("key") / t('key') in templates and scripts; keys built at run time are checked below.
_KEY_USE = re.compile(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z_]+)+)["']""")


def _used_keys() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    files = [*TEMPLATES_DIR.glob("*.html"), *STATIC_DIR.glob("*.js")]
    assert len(files) >= 6
    for path in files:
        for key in _KEY_USE.findall(path.read_text(encoding="utf-8")):
            used.setdefault(key, set()).add(path.name)
    return used


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_tables_have_the_same_keys_and_placeholders() -> None:
    ko, en = translations("ko"), translations("en")
    assert set(ko) == set(en), f"only ko: {set(ko) - set(en)}; only en: {set(en) - set(ko)}"
    for key in ko:
        assert ko[key].strip() and en[key].strip(), f"{key} is empty"
        assert _placeholders(ko[key]) == _placeholders(en[key]), key


def test_every_key_used_exists() -> None:
    used = _used_keys()
    assert "login.title" in used and "view.ended" in used  # the scan finds both kinds of file
    for language in LANGUAGES:
        table = translations(language)
        missing = {key: sorted(files) for key, files in used.items() if key not in table}
        assert not missing, f"{language}: {missing}"
    # Keys made from a value: every role, purpose category and recorder state has its text.
    dynamic = (
        [f"role.{role.value}" for role in Role]
        + [f"purpose.{category.value}" for category in PurposeCategory]
        + [f"status.{state}" for state in (*CameraState, "unknown", "disabled")]
    )
    for language in LANGUAGES:
        assert not [key for key in dynamic if key not in translations(language)]


def test_korean_purposes_match_the_ledger_labels() -> None:
    ko = translations("ko")
    assert {c: ko[f"purpose.{c.value}"] for c in PurposeCategory} == LABELS_KO


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "ko"),
        (None, None, "en-US,en;q=0.9", "en"),
        (None, None, "fr-FR,ko;q=0.5,en;q=0.4", "ko"),
        (None, None, "ko;q=0.3,en;q=0.8", "en"),
        (None, None, "en;q=0", "ko"),
        (None, "en", "ko-KR", "en"),
        ("ko", "en", "en", "ko"),
        ("xx", None, None, "ko"),
        ("xx", "en", None, "en"),
    ],
)
def test_language_choice(
    query: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert choose_language(query, cookie, accept) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, "/"),
        ("/view?camera=cam01", "/view?camera=cam01"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("view", "/"),
    ],
)
def test_next_stays_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


@pytest.fixture
def client(ctx: AppContext) -> TestClient:
    app = create_app(ctx)
    root = Principal.local("root")
    for username, role in (
        ("viewer1", Role.viewer),
        ("auditor1", Role.auditor),
        ("agency1", Role.agency),
    ):
        user, _ = app.state.access.create_user(
            root, username=username, role=role, display_name=username, password=PASSWORD
        )
    issued = app.state.access.issue_token(
        root, user.id, name="t", scopes=[Scope.requests_read], ttl_days=1
    )
    app.state.agency_token = issued.token
    return TestClient(app, follow_redirects=False)


def _sign_in(client: TestClient, username: str) -> None:
    answer = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text


def test_pages_refuse_like_the_api_but_send_browsers_to_sign_in(client: TestClient) -> None:
    for path in ("/", "/view", "/password"):
        assert client.get(path).status_code == 401  # an API client: the usual refusal
        page = client.get(path + "?x=1", headers=HTML)
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=" + quote(path + "?x=1", safe="")
    assert client.get("/login", headers=HTML).status_code == 200

    _sign_in(client, "auditor1")
    refused = client.get("/view")
    assert refused.status_code == 403 and refused.json()["detail"].startswith("this needs the role")
    assert client.get("/view", headers=HTML).headers["location"] == "/?denied=1"
    home = client.get("/", headers=HTML)
    assert home.status_code == 200 and 'href="/ledger"' in home.text
    # Signed in already: the sign-in page moves on.
    assert client.get("/login?next=/password", headers=HTML).headers["location"] == "/password"


def test_agencies_have_no_pages(client: TestClient) -> None:
    bearer = {"Authorization": f"Bearer {client.app.state.agency_token}"}  # type: ignore[attr-defined]
    for path in ("/", "/view", "/password"):
        for accept in ({}, HTML):  # refused outright, even a browser: no redirect loop home
            refused = client.get(path, headers={**bearer, **accept})
            assert refused.status_code == 403, (path, accept, refused.status_code)


def test_pages_carry_security_headers_and_remember_the_language(client: TestClient) -> None:
    _sign_in(client, "viewer1")
    page = client.get("/view?lang=en", headers=HTML)
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "cctv_lang=en" in page.headers["set-cookie"]
    assert '<html lang="en">' in client.get("/", headers=HTML).text  # from the cookie


def test_static_files_are_public_and_confined(client: TestClient) -> None:
    script = client.get("/static/view.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/missing.js").status_code == 404
    for sneaky in ("/static/../routes/pages.py", "/static/%2e%2e/render.py"):
        assert client.get(sneaky).status_code == 404
    assert Path(STATIC_DIR, "..", "render.py").resolve().exists()  # it is there, just not served
