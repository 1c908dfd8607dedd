"""The vocabulary of requests, with the Korean labels notices and the management ledger use,
and what a new request and a document are made of (``NewRequest``, ``Upload``).

Values are the ones the ledger's management view (``appliance.ledger.management``) reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AGENCY_KINDS",
    "OPERATING_ROOM_KINDS",
    "Channel",
    "Decision",
    "DocumentKind",
    "Fulfilment",
    "NewRequest",
    "RefusalGround",
    "RequestKind",
    "RequestState",
    "RequesterKind",
    "Upload",
]


class RequestKind(StrEnum):
    """What is asked (R-REQ-3, R-REQ-7)."""

    existence = "existence"  # 존재 확인
    viewing = "viewing"  # 열람 (on premises, R-REQ-6)
    copy = "copy"  # 사본 교부 (a masked export)
    deletion = "deletion"  # 삭제

    @property
    def label(self) -> str:
        return {
            "existence": "존재 확인",
            "viewing": "열람",
            "copy": "사본 교부",
            "deletion": "삭제",
        }[self.value]


class RequesterKind(StrEnum):
    """Who asks (R-REQ-1, R-REQ-9)."""

    subject = "subject"  # 정보주체
    representative = "representative"  # 법정대리인
    delegate = "delegate"  # 위임 대리인 (power of attorney)
    police = "police"  # 수사기관
    agency = "agency"  # 공공기관
    court = "court"  # 법원
    mediation = "mediation"  # 한국의료분쟁조정중재원 (Medical Service Act 38-2)

    @property
    def label(self) -> str:
        return {
            "subject": "정보주체",
            "representative": "법정대리인",
            "delegate": "위임 대리인",
            "police": "수사기관",
            "agency": "공공기관",
            "court": "법원",
            "mediation": "한국의료분쟁조정중재원",
        }[self.value]


#: Requesters that ask by official letter and may use the agency API.
AGENCY_KINDS = frozenset(
    {RequesterKind.police, RequesterKind.agency, RequesterKind.court, RequesterKind.mediation}
)
#: Who may receive operating-room footage without every subject's consent (R-REQ-9).
OPERATING_ROOM_KINDS = frozenset(
    {RequesterKind.police, RequesterKind.court, RequesterKind.mediation}
)


class RequestState(StrEnum):
    received = "received"  # 접수
    identity_verified = "identity_verified"  # 신원·권한 확인
    decided = "decided"  # 결정
    notified = "notified"  # 통지
    fulfilled = "fulfilled"  # 이행 (열람·교부·삭제)
    closed = "closed"  # 종결

    @property
    def label(self) -> str:
        return {
            "received": "접수",
            "identity_verified": "신원 확인",
            "decided": "결정",
            "notified": "통지",
            "fulfilled": "이행",
            "closed": "종결",
        }[self.value]


class Decision(StrEnum):
    accepted = "accepted"  # 승인
    partial = "partial"  # 일부 승인 (the rest is refused on a ground)
    postponed = "postponed"  # 연기
    refused = "refused"  # 거부

    @property
    def label(self) -> str:
        return {"accepted": "승인", "partial": "일부 승인", "postponed": "연기", "refused": "거부"}[
            self.value
        ]


class RefusalGround(StrEnum):
    """Grounds of R-REQ-4 (PIPA 35(4), Decree 42), plus the plain fact of no recording."""

    destroyed = "destroyed"
    others_privacy = "others_privacy"
    other_law = "other_law"
    investigation = "investigation"
    no_footage = "no_footage"

    @property
    def label(self) -> str:
        return {
            "destroyed": "보관기간 경과로 영상이 이미 파기됨",
            "others_privacy": "다른 사람의 생명·신체를 해할 우려가 있거나 다른 사람의 "
            "재산과 그 밖의 이익을 부당하게 침해할 우려가 있어 마스킹으로도 보호할 수 없음",
            "other_law": "법률에 따라 열람이 금지되거나 제한됨",
            "investigation": "범죄의 수사 또는 재판 등 업무 수행에 중대한 지장을 초래함",
            "no_footage": "요청하신 기간·장소의 영상이 촬영·보관되어 있지 않음",
        }[self.value]


class Fulfilment(StrEnum):
    onsite_viewing = "onsite_viewing"  # 현장 열람 (officer present)
    copy_handed_over = "copy_handed_over"  # 사본 교부 (in person or agency download)
    deletion_executed = "deletion_executed"  # 삭제 이행
    existence_answered = "existence_answered"  # 존재 여부 회신 (the notice is the answer)


class Channel(StrEnum):
    """How a request came in or a notice went out."""

    in_person = "in_person"
    mail = "mail"
    email = "email"
    fax = "fax"
    phone = "phone"
    api = "api"

    @property
    def label(self) -> str:
        return {
            "in_person": "방문",
            "mail": "우편",
            "email": "전자우편",
            "fax": "팩스",
            "phone": "전화",
            "api": "기관 API",
        }[self.value]


class DocumentKind(StrEnum):
    official_letter = "official_letter"  # 공문
    id_copy = "id_copy"  # 신분증 사본
    power_of_attorney = "power_of_attorney"  # 위임장
    family_relation = "family_relation"  # 가족관계증명서 (legal representative)
    consent = "consent"  # 정보주체 동의서 (R-REQ-9)
    other = "other"


@dataclass(frozen=True)
class Upload:
    """A document as received (kept encrypted)."""

    kind: DocumentKind
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class NewRequest:
    """A request as received at the desk, by mail, or through the agency API."""

    kind: RequestKind
    requester_kind: RequesterKind
    requester_name: str
    camera_ids: tuple[str, ...]
    start_ms: int
    end_ms: int
    requester_org: str = ""
    requester_contact: str = ""
    requester_language: str = "ko"  # the notices' language (notices.NOTICE_LANGUAGES)
    subject_description: str = ""
    purpose: str = ""
    legal_basis: str = ""
    letter_reference: str = ""
    channel: Channel = Channel.in_person
    received_ms: int | None = None  # default: now (a letter may be entered after its arrival)
