"""Configuration is refused at load with the field named (R-REC-2, R-RET-2, R-REC-3); legal
minimum retention by location type names the camera and the group (R-RET-2)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from appliance.errors import ConfigError
from appliance.legal_minimums import LEGAL_MINIMUMS, legal_minimum
from appliance.settings import FORBIDDEN_LOCATION_TYPES, LocationType, Settings, load_settings
from tests.support.config import base_config, write_toml

REPO = Path(__file__).resolve().parents[2]


def _refused(tmp_path: Path, data: dict[str, Any], *needles: str) -> str:
    path = write_toml(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    return message


def test_valid_config_loads(tmp_path: Path) -> None:
    settings = load_settings(write_toml(tmp_path, base_config(tmp_path)))
    assert len(settings.cameras) == 3
    assert settings.database_url.startswith("sqlite:///")
    assert settings.group("general").max_days == 30


def test_example_config_describes_the_clinic() -> None:
    with (REPO / "deploy" / "appliance.example.toml").open("rb") as handle:
        data = tomllib.load(handle)
    settings = Settings(**data)
    assert len(settings.cameras) == 30  # policy art. 16.2
    assert {c.location_type.value for c in settings.cameras} >= {"lobby", "consultation"}
    assert all(g.max_days <= 30 for g in settings.groups)  # art. 16.4: within 30 days
    assert settings.site.officer.phone == "055-338-7585"


@pytest.mark.parametrize("place", sorted(t.value for t in FORBIDDEN_LOCATION_TYPES))
def test_forbidden_location_is_refused(tmp_path: Path, place: str) -> None:
    data = base_config(tmp_path)
    data["cameras"][1]["location_type"] = place
    _refused(tmp_path, data, "cameras[1].location_type", "R-REC-2")


def test_max_below_min_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["groups"][2]["max_days"] = 30  # daycare minimum is 60
    _refused(tmp_path, data, "groups[2]", "max_days (30) is below min_days (60)")


def test_duplicate_camera_id_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["cameras"][2]["id"] = data["cameras"][0]["id"]
    _refused(tmp_path, data, "cameras[2].id", "duplicated")


def test_duplicate_group_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["groups"].append(copy.deepcopy(data["groups"][0]))
    _refused(tmp_path, data, "groups[3].name", "duplicated")


def test_missing_group_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["cameras"][0]["group"] = "nowhere"
    _refused(tmp_path, data, "cameras[0].group", "'nowhere' is not a defined group")


def test_missing_camera_id_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    del data["cameras"][0]["id"]
    _refused(tmp_path, data, "cameras[0].id", "Field required")


@pytest.mark.parametrize("url", ["http://10.0.0.5/stream", "file:///etc/passwd", "rtsp://"])
def test_bad_url_is_refused(tmp_path: Path, url: str) -> None:
    data = base_config(tmp_path)
    data["cameras"][0]["url"] = url
    _refused(tmp_path, data, "cameras[0].url")


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["cameras"][0]["ptz"] = True  # no remote re-aiming either (PIPA 25(5))
    _refused(tmp_path, data, "cameras[0].ptz", "Extra inputs are not permitted")
    data = base_config(tmp_path)
    data["colour"] = "blue"
    _refused(tmp_path, data, "colour")


def test_audio_needs_consent(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["groups"][1]["audio_allowed"] = True
    _refused(tmp_path, data, "groups[1]", "audio_consent_ref", "R-REC-3")
    data["groups"][1]["audio_consent_ref"] = "동의서 2026-001"
    load_settings(write_toml(tmp_path, data))


def test_key_dir_inside_data_dir_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["storage"]["key_dir"] = str(tmp_path / "data" / "keys")
    _refused(tmp_path, data, "storage", "key_dir must be outside data_dir")


def test_unknown_timezone_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["site"]["timezone"] = "Mars/Olympus"
    _refused(tmp_path, data, "site.timezone", "unknown time zone")


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[site\nname=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "absent.toml")


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_toml(tmp_path, base_config(tmp_path))
    monkeypatch.setenv("APPLIANCE_SERVER__PORT", "9443")
    assert load_settings(path).server.port == 9443
    monkeypatch.setenv("APPLIANCE_SERVER__PORT", "0")
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_settings(path)


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPLIANCE_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="APPLIANCE_CONFIG"):
        load_settings()
    monkeypatch.setenv("APPLIANCE_CONFIG", str(write_toml(tmp_path, base_config(tmp_path))))
    assert load_settings().site.name == "테스트의원"


def _camera_in(data: dict[str, Any], location_type: str, group: str) -> None:
    data["cameras"][1].update({"id": "kids01", "location_type": location_type, "group": group})


def test_daycare_camera_in_a_30_day_group_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    _camera_in(data, "daycare", "general")  # general keeps 0..30 days
    message = _refused(
        tmp_path, data, "cameras[1]", "'kids01'", "'general'", "max_days (30)", "60 days"
    )
    assert "Infant Care Act" in message and "R-RET-2" in message  # the site sees why


def test_operating_room_camera_in_a_20_day_group_is_refused(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["groups"].append({"name": "short", "min_days": 0, "max_days": 20})
    _camera_in(data, "operating_room", "short")
    _refused(
        tmp_path, data, "'kids01'", "'short'", "max_days (20)", "30 days", "Medical Service Act"
    )


def test_a_group_minimum_below_the_legal_one_is_refused(tmp_path: Path) -> None:
    """max_days reaches 60 but min_days 0 would let storage pressure destroy it earlier."""
    data = base_config(tmp_path)
    data["groups"].append({"name": "kids-loose", "min_days": 0, "max_days": 60})
    _camera_in(data, "daycare", "kids-loose")
    _refused(tmp_path, data, "'kids01'", "'kids-loose'", "min_days (0)", "60 days")


def test_a_60_day_daycare_group_is_accepted(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    data["groups"].append({"name": "kids", "min_days": 60, "max_days": 60})
    _camera_in(data, "daycare", "kids")
    settings = load_settings(write_toml(tmp_path, data))
    assert settings.camera("kids01").group == "kids"


def test_legal_minimums_are_one_sourced_table() -> None:
    assert {k: m.min_days for k, m in LEGAL_MINIMUMS.items()} == {
        "daycare": 60,
        "operating_room": 30,
    }
    for entry in LEGAL_MINIMUMS.values():
        assert LocationType(entry.location_type)  # a real location type
        assert entry.source and entry.requirement == "R-RET-2"
    assert legal_minimum("lobby") is None  # most places carry no minimum


def test_a_shortened_retention_day_is_refused_with_a_legal_minimum(tmp_path: Path) -> None:
    """``retention.day_s`` is for tests and benchmarks: never with footage the law keeps."""
    data = base_config(tmp_path)
    data["retention"] = {"day_s": 120}
    assert load_settings(write_toml(tmp_path, data)).retention.day_s == 120
    data["groups"].append({"name": "or", "min_days": 30, "max_days": 30})
    _camera_in(data, "operating_room", "or")
    _refused(tmp_path, data, "retention.day_s", "'kids01'", "operating_room")
