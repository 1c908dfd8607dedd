"""The operating policy from the example configuration (issue 17): every R-DOC-1 item with the
live values, the annex and signs, publishing (7 days' notice, diff, ledger), the
``policy_outdated`` alarm on a configuration or account change (raised by the health daemon),
and ``check`` on the generated text (no difference) and on the seed policy (the real ones)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from appliance.access import Principal, Via
from appliance.alarms import AlarmKind, open_alarms
from appliance.context import AppContext
from appliance.errors import PermissionDenied, ValidationFailed
from appliance.health.daemon import HealthDaemon
from appliance.legal_minimums import legal_minimum
from appliance.models import LedgerEntry, Role
from appliance.policy import PolicyService, What, check_text
from appliance.policy.versions import site_today
from tests.support.policy import example_data, example_service, example_settings
from tests.support.users import PASSWORD

SEED = Path("/work/shared/seed/clinic-privacy-policy.ko.txt")
ROOT = Principal.local("root")


@pytest.fixture
def service(tmp_path: Path) -> PolicyService:
    return example_service(example_settings(tmp_path))


def _policy_alarms(service: PolicyService) -> list[str]:
    with service.db.session() as session:
        return [a.kind for a in open_alarms(session) if a.kind == AlarmKind.policy_outdated]


def test_the_policy_has_every_item_with_the_live_values(service: PolicyService) -> None:
    settings = service.settings
    site = settings.site
    md = service.render(What.policy, "ko", "md")
    assert "설치 대수: 30대" in md
    for camera in settings.cameras:  # every camera with its location and range
        assert f"| {camera.id} {camera.name} | {camera.location} |" in md
    for purpose in site.purposes:
        assert f"- {purpose}" in md
    assert f"설치 근거: {site.legal_basis}" in md
    officer = site.officer
    assert f"| {officer.department} | {officer.title} | {officer.name} | {officer.phone}" in md
    assert "촬영 시간: 24시간" in md
    # retention per group, and the legal minimum behind the operating-room group
    minimum = legal_minimum("operating_room")
    assert minimum is not None and minimum.source in md
    assert "| cam20, cam21, cam22 | 30일 (최소 보관 기간" in md
    assert "| 30일 (보관 기간 경과 후 자동 파기) | 없음 |" in md
    assert f"보관 장소: {site.storage_place}" in md
    assert f"확인 장소: {site.viewing_place}" in md
    assert f"신청 장소: {site.request_desk} (전화 {officer.phone})" in md
    assert "10일 이내" in md and "모자이크" in md and "수수료" in md
    assert f"원칙적으로 {site.viewing_place}에서" in md
    # safeguards: only what is on (no TOTP yet, no passphrase in a test box)
    assert "저장 영상 암호화" in md and "5분마다 전자서명" in md and "자동 파기" in md
    assert "2단계 인증" not in md and "암호 키 보호" not in md and "HTTPS" not in md
    # who may view: the annex with the accounts (init's administrator)
    assert "| 원장단 |  | Administrator |  | 관리자 | 없음 (영상 열람 불가) |" in md
    assert f"기준일자: {site_today(service.facts(), service.clock.now_ms()).isoformat()}" in md
    en = service.render(What.policy, "en", "md")
    assert "Number of cameras: 30" in en and "Recording hours: 24 hours a day" in en


def test_safeguards_follow_the_installation(service: PolicyService) -> None:
    access = _access(service)
    user, _ = access.create_user(
        ROOT, username="yoo", role=Role.viewer, display_name="유창주", password=PASSWORD
    )
    from appliance.models import User

    with service.db.session() as session:
        row = session.get(User, user.id)
        assert row is not None
        row.totp_secret = "JBSWY3DPEHPK3PXP"
        session.add(row)
        session.commit()
    md = service.render(What.policy, "ko", "md")
    assert "접근 권한자 2명 중 1명의 계정에 일회용 비밀번호(TOTP)" in md


def _access(service: PolicyService) -> Any:
    from appliance.access import AccessService

    return AccessService(service.db, service.clock, service.settings.server, service.ledger)


def test_the_generated_texts_check_clean(service: PolicyService) -> None:
    facts = service.facts()
    for lang in ("ko", "en"):
        for fmt in ("md", "html"):
            text = service.render(What.policy, lang, fmt)
            assert check_text(facts, text) == [], (lang, fmt)


def test_signs_one_per_location_group_and_the_annex(service: PolicyService) -> None:
    signs = service.render(What.signs, "ko", "md")
    kinds = list(dict.fromkeys(c.location_type.value for c in service.settings.cameras))
    assert signs.count("# CCTV 설치 안내: ") == len(kinds) == 17
    assert signs.count("관리책임자: 이승우 (원장단 대표원장)  연락처: 055-338-7585") == 17
    assert "- 수술실 1: 4층 수술실 1 (의료법 제38조의2)" in signs
    html = service.render(What.signs, "en", "html")
    assert html.count('<section class="page">') == 17
    annex = service.render(What.annex, "ko", "md")
    assert "| 부서 | 직위 | 성명 | 연락처 | 역할 | 카메라 |" in annex and "기준일자: " in annex


def test_publishing_makes_a_version_seven_days_ahead_with_a_diff(service: PolicyService) -> None:
    today = site_today(service.facts(), service.clock.now_ms())
    with pytest.raises(ValidationFailed, match="at least 7 days"):
        service.publish(ROOT, today + timedelta(days=6))
    first = service.publish(ROOT)
    assert (first.number, first.announced_on) == (1, today.isoformat())
    assert first.effective_on == (today + timedelta(days=7)).isoformat()
    assert first.diff.startswith("--- (none)\n+++ v1\n")
    assert f"시행일자: {first.effective_on}" in first.text
    _access(service).create_user(
        ROOT, username="kim", role=Role.viewer, display_name="김동한", password=PASSWORD
    )
    second = service.publish(ROOT, today + timedelta(days=30))
    assert second.number == 2 and second.effective_on == (today + timedelta(30)).isoformat()
    assert "--- v1\n+++ v2\n" in second.diff and "+| " in second.diff and "김동한" in second.diff
    assert [v.number for v in service.history()] == [2, 1]
    with service.db.session() as session:
        entries = session.exec(
            select(LedgerEntry).where(col(LedgerEntry.event) == "policy_published")
        ).all()
    data = [json.loads(e.data) for e in entries]
    assert [d["version"] for d in data] == [1, 2]
    assert data[1]["previous_sha256"] == first.sha256
    assert data[1]["effective_on"] == second.effective_on
    # The officer publishes (or root at the console); an administrator on the web may not.
    admin = Principal(user_id=1, username="a", role=Role.admin, via=Via.session)
    with pytest.raises(PermissionDenied):
        service.publish(admin)
    officer = Principal(user_id=1, username="o", role=Role.officer, via=Via.session)
    assert service.publish(officer, today + timedelta(days=30)).actor == "o"


def _reopen(service: PolicyService, data: dict[str, Any]) -> PolicyService:
    settings = example_settings(Path(data["storage"]["data_dir"]).parent, data)
    return PolicyService.of(AppContext.open(settings, service.clock))


@pytest.mark.parametrize("change", ["camera_added", "retention_changed", "account_added"])
def test_a_change_raises_policy_outdated_until_published(tmp_path: Path, change: str) -> None:
    data = example_data(tmp_path)
    service = example_service(example_settings(tmp_path, data))
    service.publish(ROOT)
    assert service.check_current() and _policy_alarms(service) == []
    if change == "camera_added":
        data["cameras"].append(
            {**data["cameras"][0], "id": "cam31", "name": "5층 휴게실", "location": "5층 휴게실"}
        )
    elif change == "retention_changed":
        data["groups"][0]["max_days"] = 14
    changed = _reopen(service, data)
    if change == "account_added":
        _access(changed).create_user(
            ROOT, username="new", role=Role.viewer, display_name="신입", password=PASSWORD
        )
    # The health daemon's round runs the check.
    HealthDaemon(AppContext(changed.settings, changed.db, changed.clock)).check()
    assert _policy_alarms(changed) == [AlarmKind.policy_outdated]
    assert not changed.status().current
    changed.publish(ROOT)
    assert _policy_alarms(changed) == []
    assert changed.check_current() and changed.status().current


# What the seed policy says that the example configuration and these accounts do not (and
# nothing else): none of the 30 camera locations is named (16.2 says only "로비, 상담실 등");
# 16.4 names a 60-day retention (어린이집) that no group has; annex 1's people who have no
# account, the accounts it does not list, and the differing contact and title.
SEED_EXPECTED = [
    ("retention", "no group keeps footage 60 days", "60 days"),
    ("people", "Administrator (원장단 , admin)", "not in the text"),
    ("people", "홍길동 (진료과 사원, viewer)", "not in the text"),
    ("contact", "김동한: 010-1234-5678", "055-338-7585"),
    ("people", "김동한: 경영기획본부 과장", "경영기획본부 대리"),
    *[
        ("people", "no enabled account", who)
        for who in (
            "허은정 (원장단 원장)",
            "이경주 (경영기획본부 차장)",
            "최단비 (경영기획본부 과장)",
            "최유미 (CS총괄조정과 과장)",
            "정소라 (CS총괄조정과 실장)",
            "유나리 (CS총괄조정과 대리)",
            "이혜림 (CS총괄조정과 계장)",
            "노다미 (CS총괄조정과 주임)",
            "김하람 (진료과 실장)",
            "박지원 (진료과 대리)",
            "이하연 (진료과 대리)",
            "김해린 (진료과 선임)",
            "강해정 (진료과 사원)",
            "배수빈 (진료과 사원)",
            "강소진 (피부관리상담실 계장)",
            "이유진 (피부관리상담실 선임)",
            "유하늘 (전산실 이사)",
            "김정례 (환경미화실 사원)",
            "양경보 (진료지원과 과장)",
        )
    ],
]


def test_check_of_the_seed_policy_lists_the_real_differences(service: PolicyService) -> None:
    access = _access(service)
    for username, role, name, dept, title, phone in (
        ("lee", Role.officer, "이승우", "원장단", "대표원장", "055-338-7585"),
        ("yoo", Role.viewer, "유창주", "경영기획본부", "본부장", "055-338-7585"),
        ("kim", Role.viewer, "김동한", "경영기획본부", "과장", "010-1234-5678"),
        ("hong", Role.viewer, "홍길동", "진료과", "사원", "055-338-7585"),
    ):
        access.create_user(
            ROOT,
            username=username,
            role=role,
            display_name=name,
            department=dept,
            title=title,
            phone=phone,
            password=PASSWORD,
        )
    found = service.check_text(SEED.read_text(encoding="utf-8"))
    locations = [m for m in found if m.item == "location"]
    assert [m.live.split()[0] for m in locations] == [c.id for c in service.settings.cameras]
    assert all(m.text == "not in the text" for m in locations)
    rest = sorted((m.item, m.live, m.text) for m in found if m.item != "location")
    assert rest == sorted(SEED_EXPECTED)
    # camera count (30), the officer, places, purposes, legal basis and hours all agree
    assert not [m for m in found if m.item in {"camera_count", "officer", "places", "hours"}]
