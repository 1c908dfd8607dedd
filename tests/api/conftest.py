"""A fresh app per test on the test context, and signed-in clients for every role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import CSRF_HEADER
from appliance.access import AccessService, Principal, Scope
from appliance.context import AppContext
from tests.support.users import PASSWORD, ROLE_USERS, Login, Staff


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    return create_app(ctx)


@pytest.fixture
def access(app: FastAPI) -> AccessService:
    service: AccessService = app.state.access
    return service


@pytest.fixture
def staff(access: AccessService) -> Staff:
    root = Principal.local("root")
    ids: dict[str, int] = {}
    for role, username in ROLE_USERS.items():
        user, _ = access.create_user(
            root,
            username=username,
            role=role,
            display_name=username.title(),
            password=PASSWORD,
            department="원무과",
            title="팀장",
            phone="02-111-2222",
        )
        assert user.id is not None
        ids[username] = user.id
    access.change_grants(root, ids["viewer1"], add=["cam01"])
    issued = access.issue_token(
        root,
        ids["agency1"],
        name="test",
        scopes=[Scope.requests_read, Scope.requests_write],
        ttl_days=30,
    )
    return Staff(ids, issued.token)


@pytest.fixture
def login(app: FastAPI) -> Iterator[Login]:
    """A client signed in as ``username``, sending its CSRF token unless told not to."""
    clients: list[TestClient] = []

    def sign_in(username: str, password: str = PASSWORD, csrf: bool = True) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        response = client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        if csrf:
            client.headers[CSRF_HEADER] = response.json()["csrf_token"]
        return client

    yield sign_in
    for client in clients:
        client.close()


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
