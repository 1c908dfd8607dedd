# ruff: noqa: E501  (wording tables: Korean sentences are kept whole, one per line)
"""The fixed wording of the policy, signs and annex in Korean and English (``TEXTS[lang]``).

Only wording lives here; every value (counts, names, days, places) comes from ``PolicyFacts``.
Placeholders are ``{name}`` filled with ``str.format``.
"""

from __future__ import annotations

__all__ = ["LANGS", "LOCATION_LABELS", "TEXTS"]

LANGS = ("ko", "en")

TEXTS: dict[str, dict[str, str]] = {
    "ko": {
        "title": "{site} 영상정보처리기기 운영·관리 방침",
        "intro": "{site}은(는) 「개인정보 보호법」 제25조 및 같은 법 시행령 제25조에 따라 "
        "영상정보처리기기의 운영·관리 방침을 다음과 같이 정합니다. 이 방침의 내용은 영상 장비의 "
        "실제 설정과 계정에서 자동으로 만들어집니다.",
        "s1": "1. 설치 근거 및 설치 목적",
        "basis": "설치 근거: {basis}",
        "purposes": "설치 목적:",
        "s2": "2. 설치 대수, 설치 위치 및 촬영 범위",
        "count": "설치 대수: {n}대",
        "forbidden": "화장실, 목욕실, 발한실, 탈의실 등 사생활 침해 우려가 큰 장소에는 설치하지 않습니다.",
        "cam_header": "번호|카메라|설치 위치 및 촬영 범위|보관 기간",
        "s3": "3. 관리책임자, 담당부서 및 영상정보 열람 권한자",
        "mgr_header": "구분|부서|직위|성명|연락처",
        "mgr_row": "영상정보 보호책임자",
        "access_count": "영상정보에 접근할 수 있는 사람: {n}명 (역할별: {roles}). "
        "성명·부서·직위·연락처·열람 가능한 카메라는 [별지 1]과 같습니다.",
        "access_rule": "열람 권한은 업무상 필요한 카메라에 한하여 개인별로 부여하며, 부여·변경·회수는 "
        "모두 관리대장에 기록됩니다.",
        "s4": "4. 촬영 시간, 보관 기간, 보관 장소 및 처리 방법",
        "hours": "촬영 시간: 24시간 연속 촬영",
        "ret_header": "보관 그룹|카메라|보관 기간|법정 최소 보관 기간",
        "ret_days": "{max}일 (보관 기간 경과 후 자동 파기)",
        "ret_days_min": "{min}일 이상 {max}일 이내 (경과 후 자동 파기)",
        "ret_days_exact": "{max}일 (최소 보관 기간, 경과 후 자동 파기)",
        "ret_none": "없음",
        "storage": "보관 장소: {place}",
        "handling": "처리 방법: 영상은 암호화하여 저장하고, 목적 외 이용·제3자 제공·열람·파기 등을 "
        "관리대장에 기록·관리하며, 보관 기간이 지나면 복원할 수 없는 방법으로 파기합니다 "
        "(암호 키 폐기 후 파일 삭제).",
        "s5": "5. 영상정보 확인 방법 및 장소",
        "check_how": "확인 방법: 영상정보 보호책임자 또는 열람 권한을 부여받은 사람이 목적을 기록한 뒤 "
        "장비에 직접 연결된 화면으로 확인합니다 (인터넷을 통한 외부 접속 방식이 아닙니다).",
        "check_where": "확인 장소: {place}",
        "s6": "6. 정보주체의 영상정보 열람 등 요구에 대한 조치",
        "req_where": "신청 장소: {desk} (전화 {phone})",
        "req_how": "신청 방법: 영상정보 열람·존재확인·삭제 청구서 제출 (수사기관 등은 협조 공문)",
        "req_notice": "처리 기한: 청구를 받은 날부터 {days}일 이내에 열람 여부와 일시·장소 또는 "
        "거부 사유를 알립니다.",
        "req_onsite": "열람 방식: 원칙적으로 {place}에서 영상정보 보호책임자 입회 하에 열람합니다.",
        "req_mask": "다른 사람 보호: 청구인 외의 사람이 알아볼 수 있는 경우 모자이크 등으로 알아볼 수 "
        "없게 처리한 뒤 열람하게 하거나 제공합니다.",
        "req_fee": "수수료: 열람은 무료이며, 사본 제공에는 실제 드는 비용(매체, 마스킹 작업)만 "
        "청구하고 금액을 미리 알립니다.",
        "req_or": "수술실 영상(의료법 제38조의2)은 수사·재판 기관, 한국의료분쟁조정중재원의 요청 또는 "
        "촬영된 정보주체 모두의 동의가 있는 경우에만 열람·제공합니다.",
        "s7": "7. 영상정보 보호를 위한 기술적·관리적·물리적 조치",
        "sg_enc": "저장 영상 암호화: 모든 영상은 저장할 때 암호화되며, 열람 시에만 복호화됩니다.",
        "sg_ledger": "위·변조 방지 관리대장: 열람·제공·파기·권한 변경을 해시 체인 대장에 기록하고, "
        "{minutes}분마다 전자서명된 확인값을 만들어 데이터베이스 밖에도 보관합니다.",
        "sg_totp": "2단계 인증: 접근 권한자 {n}명 중 {k}명의 계정에 일회용 비밀번호(TOTP)가 설정되어 "
        "있습니다.",
        "sg_destroy": "자동 파기: 보관 기간이 지난 영상은 자동으로 파기되고 파기 내역이 기록됩니다.",
        "sg_pass": "암호 키 보호: 영상 복호화 키는 비밀번호로 봉인되어, 장비를 도난당해도 영상을 볼 "
        "수 없습니다.",
        "sg_https": "전송 구간 암호화: 열람 화면은 HTTPS로만 제공됩니다.",
        "sg_access": "접근 권한 차등 부여와 로그인 실패 시 계정 잠금을 적용합니다.",
        "s8": "8. 그 밖의 사항",
        "other_outsource": "영상정보처리기기의 설치·관리는 위탁하지 않습니다.",
        "other_change": "이 방침을 변경하는 경우 시행하기 최소 7일 전에 변경 사유와 내용을 공지합니다.",
        "dates": "공고일자: {announced} / 시행일자: {effective}",
        "annex_title": "[별지 1] {site} 영상정보 접근권한자",
        "annex_date": "기준일자: {date}",
        "annex_chief": "영상정보 보호책임자",
        "annex_people": "영상정보 접근권한자",
        "annex_header": "부서|직위|성명|연락처|역할|카메라",
        "annex_chief_header": "부서|직위|성명|연락처",
        "annex_all": "전체",
        "annex_none": "없음 (영상 열람 불가)",
        "annex_empty": "접근권한자가 없습니다.",
        "sign_title": "CCTV 설치 안내",
        "sign_headline": "CCTV 촬영 중",
        "sign_purpose": "설치 목적: {purposes}",
        "sign_place": "설치 장소 및 촬영 범위:",
        "sign_hours": "촬영 시간: 24시간",
        "sign_retention": "보관 기간: {retention}",
        "sign_manager": "관리책임자: {name} ({dept} {title})  연락처: {phone}",
        "signs_title": "{site} CCTV 안내판",
        "role.admin": "관리자",
        "role.officer": "보호책임자",
        "role.viewer": "열람자",
        "role.auditor": "감사자",
        "role.agency": "기관",
    },
    "en": {
        "title": "{site}: operating and management policy for video devices",
        "intro": "{site} runs its video devices as follows, under article 25 of the Personal "
        "Information Protection Act and article 25 of its Enforcement Decree. This policy is "
        "generated from the recording system's actual configuration and accounts.",
        "s1": "1. Legal basis and purposes",
        "basis": "Legal basis: {basis}",
        "purposes": "Purposes:",
        "s2": "2. Number of cameras, locations and ranges",
        "count": "Number of cameras: {n}",
        "forbidden": "No camera is installed in toilets, baths, saunas, changing rooms or other "
        "places where privacy could be seriously invaded.",
        "cam_header": "No.|Camera|Location and range|Retention",
        "s3": "3. Manager, department and who may view footage",
        "mgr_header": "Role|Department|Title|Name|Contact",
        "mgr_row": "Video protection officer",
        "access_count": "People with access to footage: {n} (by role: {roles}). Their names, "
        "departments, titles, contacts and cameras are listed in annex 1.",
        "access_rule": "Access is granted person by person, only to the cameras their work needs; "
        "every grant, change and revocation is recorded in the ledger.",
        "s4": "4. Recording hours, retention, storage place and handling",
        "hours": "Recording hours: 24 hours a day",
        "ret_header": "Group|Cameras|Retention|Legal minimum",
        "ret_days": "{max} days (destroyed automatically afterwards)",
        "ret_days_min": "at least {min} and at most {max} days (destroyed automatically afterwards)",
        "ret_days_exact": "{max} days, the minimum (destroyed automatically afterwards)",
        "ret_none": "none",
        "storage": "Storage place: {place}",
        "handling": "Handling: footage is stored encrypted; every use, provision, viewing and "
        "destruction is recorded in the ledger; expired footage is destroyed beyond recovery "
        "(keys destroyed, then files deleted).",
        "s5": "5. How and where footage is checked",
        "check_how": "How: the video protection officer, or a person granted access, records the "
        "purpose and views footage on screens connected to the recorder (no access over the "
        "internet).",
        "check_where": "Where: {place}",
        "s6": "6. Requests to view, confirm or delete footage",
        "req_where": "Where to apply: {desk} (phone {phone})",
        "req_how": "How to apply: a request form (an official letter from an agency)",
        "req_notice": "Answer: within {days} days of receipt you are told whether, when and where "
        "you may view the footage, or why the request is refused.",
        "req_onsite": "Viewing: as a rule at {place}, in the presence of the video protection "
        "officer.",
        "req_mask": "Other people: anyone else who could be recognised is masked before footage "
        "is shown or handed over.",
        "req_fee": "Fees: viewing is free; a copy costs only its actual cost (media, masking), "
        "announced beforehand.",
        "req_or": "Operating-room footage (Medical Service Act art. 38-2) is shown or provided "
        "only to investigators and courts, the Korea Medical Dispute Mediation and Arbitration "
        "Agency, or with the consent of everyone filmed.",
        "s7": "7. Technical, managerial and physical safeguards",
        "sg_enc": "Encryption at rest: all footage is encrypted when stored and decrypted only "
        "for viewing.",
        "sg_ledger": "Tamper-evident ledger: viewing, provision, destruction and access changes "
        "are recorded in a hash-chained ledger, with a digitally signed head every {minutes} "
        "minutes, also kept outside the database.",
        "sg_totp": "Two-step sign-in: {k} of the {n} accounts with access use one-time "
        "passwords (TOTP).",
        "sg_destroy": "Automatic destruction: expired footage is destroyed automatically and the "
        "destruction recorded.",
        "sg_pass": "Key protection: the keys that decrypt footage are sealed under a passphrase; "
        "a stolen recorder reveals no footage.",
        "sg_https": "Encryption in transit: the viewer is served over HTTPS only.",
        "sg_access": "Access rights are differentiated per person, and accounts lock after "
        "repeated failed sign-ins.",
        "s8": "8. Other matters",
        "other_outsource": "The installation and management of the video devices is not "
        "outsourced.",
        "other_change": "Changes to this policy are announced at least 7 days before they take "
        "effect, with their reasons.",
        "dates": "Announced: {announced} / Effective: {effective}",
        "annex_title": "[Annex 1] {site}: people with access to footage",
        "annex_date": "Reference date: {date}",
        "annex_chief": "Video protection officer",
        "annex_people": "People with access",
        "annex_header": "Department|Title|Name|Contact|Role|Cameras",
        "annex_chief_header": "Department|Title|Name|Contact",
        "annex_all": "all",
        "annex_none": "none (no footage)",
        "annex_empty": "Nobody has access.",
        "sign_title": "CCTV notice",
        "sign_headline": "CCTV in operation",
        "sign_purpose": "Purpose: {purposes}",
        "sign_place": "Location and range:",
        "sign_hours": "Recording hours: 24 hours",
        "sign_retention": "Retention: {retention}",
        "sign_manager": "Manager: {name} ({dept}, {title})  Contact: {phone}",
        "signs_title": "{site}: CCTV signs",
        "role.admin": "administrator",
        "role.officer": "officer",
        "role.viewer": "viewer",
        "role.auditor": "auditor",
        "role.agency": "agency",
    },
}

# What a camera looks at, as a sign's heading (``LocationType`` values; forbidden ones never
# occur: the configuration refuses them).
LOCATION_LABELS: dict[str, dict[str, str]] = {
    "ko": {
        "lobby": "로비",
        "reception": "접수·수납",
        "waiting_room": "대기실",
        "corridor": "복도",
        "consultation": "상담실",
        "treatment": "처치실",
        "recovery": "회복실",
        "operating_room": "수술실",
        "pharmacy": "약제실",
        "office": "사무실",
        "server_room": "전산실",
        "storage_room": "물품 보관실",
        "stairs": "계단",
        "elevator": "엘리베이터",
        "entrance": "출입구",
        "parking": "주차장",
        "outdoor": "건물 외부",
        "daycare": "어린이집",
        "other": "기타",
    },
    "en": {
        "lobby": "Lobby",
        "reception": "Reception",
        "waiting_room": "Waiting room",
        "corridor": "Corridor",
        "consultation": "Consultation room",
        "treatment": "Treatment room",
        "recovery": "Recovery room",
        "operating_room": "Operating room",
        "pharmacy": "Pharmacy",
        "office": "Office",
        "server_room": "Server room",
        "storage_room": "Storage room",
        "stairs": "Stairs",
        "elevator": "Elevator",
        "entrance": "Entrance",
        "parking": "Parking",
        "outdoor": "Outside the building",
        "daycare": "Daycare",
        "other": "Other",
    },
}
