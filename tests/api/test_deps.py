"""The API layer's conventions: routes take their dependencies and id types from ``api.deps``,
no route imports another, ids have one upper bound, ``*Out`` bodies read the domain's rows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from api.deps import ROW_ID_MAX, require
from api.schemas.cameras import camera_out
from api.schemas.users import token_out, user_out
from api.schemas.viewing import viewing_out
from appliance.access import Permission, roles_with
from appliance.models import ApiToken, Camera, Role, User
from appliance.models.access import ViewingSession, ViewingSpan
from tests.support.users import Login, Staff

ROUTES = Path(__file__).parents[2] / "api" / "routes"


def _imports(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }


def _route_modules() -> list[Path]:
    return [p for p in sorted(ROUTES.glob("*.py")) if p.stem != "__init__"]


@pytest.mark.parametrize("module", _route_modules(), ids=lambda p: p.stem)
def test_routes_import_dependencies_only_from_deps(module: Path) -> None:
    imported = _imports(module)
    assert "api.security" not in imported
    assert not {m for m in imported if m.startswith("api.routes")}, "a route imports a route"


@pytest.mark.parametrize("module", _route_modules(), ids=lambda p: p.stem)
def test_routes_have_no_local_id_types(module: Path) -> None:
    text = module.read_text(encoding="utf-8")
    assert "[a-z0-9]" not in text, "use CameraId/CameraQuery/CameraField from api.deps"
    assert "Path(ge=" not in text, "use RowId from api.deps"


def test_schemas_are_out_of_the_routes() -> None:
    assert not (ROUTES / "_schemas.py").exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/users/{}"), ("GET", "/api/viewing/{}"), ("DELETE", "/api/users/1/tokens/{}")],
)
def test_an_id_past_the_bound_is_a_422_not_a_500(
    login: Login, staff: Staff, method: str, path: str
) -> None:
    admin = login("admin1")
    assert admin.request(method, path.format(ROW_ID_MAX)).status_code == 404
    assert admin.request(method, path.format(2**31)).status_code == 422


def test_user_out_reads_the_row_and_hides_the_secret() -> None:
    user = User(
        id=7,
        username="kim",
        display_name="김",
        role="viewer",
        password_hash="x",
        totp_secret="SECRET",
        locked_until_ms=0,
        created_ms=1,
        updated_ms=2,
    )
    out = user_out(user)
    assert out.role is Role.viewer
    assert out.totp_enabled is True
    assert "SECRET" not in out.model_dump_json()
    user.totp_secret = None
    assert user_out(user).totp_enabled is False


def test_token_out_splits_the_scopes() -> None:
    row = ApiToken(
        id=1,
        user_id=2,
        name="police",
        token_hash="h",
        prefix="cctv_ab",
        scopes="requests:read exports:read",
        created_ms=1,
        created_by="admin1",
        expires_ms=9,
    )
    out = token_out(row)
    assert out.scopes == ["requests:read", "exports:read"]
    assert "token_hash" not in out.model_dump()


def test_camera_out_names_the_group_and_whether_viewable() -> None:
    camera = Camera(
        id="cam01",
        name="로비",
        location="1층",
        location_type="indoor",
        group_name="lobby",
        in_config=True,
        created_ms=0,
        updated_ms=0,
    )
    out = camera_out(camera, viewable=False)
    assert (out.group, out.viewable, out.in_config) == ("lobby", False, True)


def test_viewing_out_reads_the_session_and_its_spans() -> None:
    viewing = ViewingSession(
        id=3,
        user_id=2,
        kind="playback",
        camera_ids=["cam01", "cam02"],
        start_ms=10,
        end_ms=20,
        purpose_category="request",
        purpose_text="",
        request_ref="REQ-1",
        opened_ms=5,
        expires_ms=50,
    )
    span = ViewingSpan(
        viewing_id=3, camera_id="cam01", start_ms=10, end_ms=20, began_ms=6, bytes_sent=99
    )
    out = viewing_out(viewing, [span])
    assert (out.cameras, out.request_id) == (["cam01", "cam02"], "REQ-1")
    assert [s.bytes_sent for s in out.spans] == [99]
    assert viewing_out(viewing).spans == []


def test_require_admits_the_roles_holding_a_permission() -> None:
    assert require(Permission.read_ledger).roles == roles_with(Permission.read_ledger)
    assert require(Role.viewer, Permission.manage_accounts).roles == (Role.admin, Role.viewer)
    with pytest.raises(ValueError):
        require()
