"""Why someone views footage (R-VIEW-1): a category from a fixed list plus free text, or the id
of the request being handled. Pure validation; the purpose goes into the ledger entry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from appliance.errors import ValidationFailed

__all__ = ["LABELS_KO", "MIN_TEXT_CHARS", "Purpose", "PurposeCategory", "make_purpose"]

MIN_TEXT_CHARS = 4
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class PurposeCategory(StrEnum):
    """The fixed list; ``request`` is implied by a request id."""

    incident = "incident"
    safety = "safety"
    crime_prevention = "crime_prevention"
    request = "request"
    maintenance = "maintenance"
    other = "other"


LABELS_KO: dict[PurposeCategory, str] = {
    PurposeCategory.incident: "사건·사고 경위 확인",
    PurposeCategory.safety: "시설안전·화재 예방 점검",
    PurposeCategory.crime_prevention: "도난 등 범죄 예방·확인",
    PurposeCategory.request: "열람 등 요청 처리",
    PurposeCategory.maintenance: "장비 점검(화각·화질 확인)",
    PurposeCategory.other: "기타",
}


@dataclass(frozen=True)
class Purpose:
    category: PurposeCategory
    text: str
    request_id: str | None = None

    def describe(self) -> str:
        """One line for the ledger and the management ledger's purpose column."""
        label = LABELS_KO[self.category]
        ref = f" [{self.request_id}]" if self.request_id else ""
        return f"{label}{ref}: {self.text}" if self.text else f"{label}{ref}"


def make_purpose(category: str | None, text: str | None, request_id: str | None = None) -> Purpose:
    """A checked purpose; refuses a missing one (ValidationFailed)."""
    text = " ".join((text or "").split())
    if request_id:
        if not _REQUEST_ID.match(request_id):
            raise ValidationFailed("request_id has a bad form")
        if category not in (None, "", PurposeCategory.request.value):
            raise ValidationFailed("with a request_id the purpose category is 'request'")
        return Purpose(PurposeCategory.request, text, request_id)
    if not category:
        raise ValidationFailed(
            "a purpose is required: a category and a description, or a request id"
        )
    try:
        chosen = PurposeCategory(category)
    except ValueError as exc:
        known = ", ".join(c.value for c in PurposeCategory)
        raise ValidationFailed(f"unknown purpose category {category!r}; known: {known}") from exc
    if chosen is PurposeCategory.request:
        raise ValidationFailed("the 'request' category needs a request_id")
    if len(text) < MIN_TEXT_CHARS:
        raise ValidationFailed(
            f"describe the purpose (at least {MIN_TEXT_CHARS} characters), e.g. what happened"
        )
    return Purpose(chosen, text)
