"""Pure decisions of viewing: purpose, scope (R-VIEW-3), timeline ranges and day bounds."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from appliance.errors import NotFound, PermissionDenied, ValidationFailed
from appliance.models import Role
from appliance.viewing.purpose import PurposeCategory, make_purpose
from appliance.viewing.scope import ViewKind, check_open, media_range
from appliance.viewing.timeline import day_bounds, merge_ranges

NOW = 1_772_323_200_000


def test_purpose_forms() -> None:
    p = make_purpose("incident", "  로비   낙상  ")
    assert p.category is PurposeCategory.incident and p.text == "로비 낙상"
    assert p.describe() == "사건·사고 경위 확인: 로비 낙상"
    r = make_purpose(None, "", "REQ-7")
    assert r.category is PurposeCategory.request and r.describe() == "열람 등 요청 처리 [REQ-7]"
    for category, text, request_id in [
        (None, "long enough", None),
        ("incident", "abc", None),
        ("request", "long enough", None),
        ("nonsense", "long enough", None),
        ("incident", "", "REQ-7"),
        (None, "", "bad id with spaces"),
    ]:
        with pytest.raises(ValidationFailed, match=r"purpose|request_id"):
            make_purpose(category, text, request_id)


def _open(**kwargs: object) -> list[str]:
    args: dict[str, object] = {
        "role": Role.viewer,
        "granted": ["cam01", "cam02"],
        "known_cameras": ["cam01", "cam02", "cam03"],
        "kind": ViewKind.playback,
        "cameras": ["cam01", "cam01", "cam02"],
        "start_ms": NOW - 3_600_000,
        "end_ms": NOW,
        "now_ms": NOW,
        "max_range_s": 3600,
    }
    args.update(kwargs)
    return check_open(**args)  # type: ignore[arg-type]


def test_check_open() -> None:
    assert _open() == ["cam01", "cam02"]
    with pytest.raises(PermissionDenied, match="may not view camera 'cam03'"):
        _open(cameras=["cam03"])  # not granted
    with pytest.raises(PermissionDenied, match="may not view camera 'cam99'"):
        _open(cameras=["cam99"])  # unknown looks the same
    with pytest.raises(PermissionDenied, match="never sees video"):
        _open(role=Role.auditor)
    with pytest.raises(ValidationFailed, match="wider than 3600 s"):
        _open(start_ms=NOW - 3_600_001)  # wider than allowed
    with pytest.raises(ValidationFailed, match="starts in the future"):
        _open(start_ms=NOW + 1, end_ms=NOW + 2)  # the future
    with pytest.raises(ValidationFailed, match="end_ms must be after start_ms"):
        _open(end_ms=NOW - 3_600_000)  # empty
    with pytest.raises(ValidationFailed, match="at least one camera"):
        _open(cameras=[])
    assert _open(kind=ViewKind.live, start_ms=None, end_ms=None) == ["cam01", "cam02"]
    with pytest.raises(ValidationFailed, match="takes no time range"):
        _open(kind=ViewKind.live)  # live takes no range
    assert _open(role=Role.officer, granted=[], cameras=["cam03"]) == ["cam03"]


def test_media_range() -> None:
    common: dict[str, Any] = {
        "cameras": ["cam01"],
        "session_start_ms": 1000,
        "session_end_ms": 5000,
    }
    assert media_range(**common, camera_id="cam01", start_ms=None, end_ms=None) == (1000, 5000)
    assert media_range(**common, camera_id="cam01", start_ms=2000, end_ms=None) == (2000, 5000)
    with pytest.raises(PermissionDenied, match="outside this viewing session's scope"):
        media_range(**common, camera_id="cam01", start_ms=999, end_ms=None)
    with pytest.raises(PermissionDenied, match="outside this viewing session's scope"):
        media_range(**common, camera_id="cam01", start_ms=None, end_ms=5001)
    with pytest.raises(NotFound, match="not part of this viewing session"):
        media_range(**common, camera_id="cam02", start_ms=None, end_ms=None)
    with pytest.raises(ValidationFailed, match="end_ms must be after start_ms"):
        media_range(**common, camera_id="cam01", start_ms=3000, end_ms=3000)


def test_merge_ranges() -> None:
    spans = [(5000, 9000), (0, 2000), (2500, 4000), (9000, 12000), (20000, 21000)]
    assert merge_ranges(spans, tolerance_ms=500) == [(0, 4000), (5000, 12000), (20000, 21000)]
    assert merge_ranges(spans, tolerance_ms=500, clip=(1000, 20500)) == [
        (1000, 4000),
        (5000, 12000),
        (20000, 20500),
    ]
    assert merge_ranges([]) == []


def test_day_bounds_follow_the_site_zone() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    start, end = day_bounds(date(2026, 3, 1), seoul)
    assert start == NOW - 9 * 3_600_000 and end - start == 86_400_000
    berlin = ZoneInfo("Europe/Berlin")
    start, end = day_bounds(date(2026, 3, 29), berlin)  # DST starts: a 23-hour day
    assert end - start == 23 * 3_600_000
