"""``appliance policy check FILE``: compare a published text (Markdown, HTML or plain text)
with the live system, item by item (camera count, locations, retention, people with access and
their contacts, officer, places, purposes, legal basis, hours).

The text is read as lines (HTML table cells become ``|``-separated cells); people are the rows
that end in a phone number after department, title and name, as in the seed's annex 1 and in
the generated annex. Comparisons ignore whitespace, since printed texts break lines anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

from appliance.policy.facts import PolicyFacts

__all__ = ["Mismatch", "TextPerson", "check_text", "people_in", "plain_lines"]

_PHONE = re.compile(r"\b0\d{1,2}-\d{3,4}-\d{4}\b")
_HANGUL_NAME = re.compile(r"^[가-힣]{2,5}$")
_LATIN_NAME = re.compile(r"^[A-Z][a-z][A-Za-z.'-]*$")  # "Kim", not "TEL"
_DAYS = re.compile(r"(\d+)\s*(?:일|days?\b)")
_COUNT = re.compile(r"(?:설치\s*대수|Number of cameras)\s*[:：]?\s*(\d+)")
_RETENTION_LINE = re.compile(r"보관|retention|destroyed automatically", re.IGNORECASE)


@dataclass(frozen=True)
class Mismatch:
    """One difference: ``item`` (what), what the live system says, what the text says."""

    item: str
    live: str
    text: str

    def line(self) -> str:
        return f"{self.item}: live {self.live!r}; text {self.text!r}"


@dataclass(frozen=True)
class TextPerson:
    department: str
    title: str
    name: str
    phone: str


def plain_lines(text: str) -> list[str]:
    """The text's lines; HTML is reduced to text first (cells joined by ``|``)."""
    if re.search(r"<(?:html|body|table|p|h[1-6])\b", text, re.IGNORECASE):
        text = re.sub(r"<(script|style)\b.*?</\1>", "", text, flags=re.IGNORECASE | re.DOTALL)
        text = re.sub(r"</t[dh]>", " | ", text, flags=re.IGNORECASE)
        text = re.sub(r"<(?:br|/tr|/p|/li|/h[1-6]|/section)\b[^>]*>", "\n", text, flags=re.I)
        text = unescape(re.sub(r"<[^>]+>", "", text))
    return [line.strip() for line in text.splitlines() if line.strip()]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _is_name(token: str) -> bool:
    return bool(_HANGUL_NAME.match(token) or _LATIN_NAME.match(token))


def people_in(lines: list[str]) -> list[TextPerson]:
    """Rows of department, title, name and phone (table rows or whitespace-separated)."""
    found: list[TextPerson] = []
    for line in lines:
        phone = _PHONE.search(line)
        if phone is None:
            continue
        if "|" in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            at = next((i for i, c in enumerate(cells) if _PHONE.search(c)), -1)
            before = cells[:at]
        else:
            before = line[: phone.start()].split()
        if len(before) >= 3 and _is_name(before[-1]):
            department, title, name = before[-3], before[-2], before[-1]
            found.append(TextPerson(department, title, name, phone.group(0)))
    return found


def _cameras(facts: PolicyFacts, squashed: str, lines: list[str]) -> list[Mismatch]:
    found: list[Mismatch] = []
    counts = [int(m.group(1)) for line in lines for m in [_COUNT.search(line)] if m]
    if not counts:
        found.append(Mismatch("camera_count", str(facts.camera_count), "not stated"))
    found += [
        Mismatch("camera_count", str(facts.camera_count), str(n))
        for n in sorted(set(counts))
        if n != facts.camera_count
    ]
    found += [
        Mismatch("location", f"{c.id} {c.name}: {c.location}", "not in the text")
        for c in facts.cameras
        if _squash(c.location) not in squashed
    ]
    return found


def _retention(facts: PolicyFacts, lines: list[str]) -> list[Mismatch]:
    stated = {
        int(m.group(1))
        for line in lines
        if _RETENTION_LINE.search(line)
        for m in _DAYS.finditer(line)
    }
    live = {g.group.max_days for g in facts.groups} | {
        g.group.min_days for g in facts.groups if g.group.min_days
    }
    found = [
        Mismatch("retention", f"group {g.group.name}: {g.group.max_days} days", "not in the text")
        for g in facts.groups
        if g.group.max_days not in stated
    ]
    found += [
        Mismatch("retention", f"no group keeps footage {days} days", f"{days} days")
        for days in sorted(stated - live)
    ]
    return found


def _people(facts: PolicyFacts, squashed: str, people: list[TextPerson]) -> list[Mismatch]:
    officer = facts.settings.site.officer
    by_name: dict[str, list[TextPerson]] = {}
    for person in people:
        by_name.setdefault(person.name, []).append(person)
    found: list[Mismatch] = []
    live_names = {p.name for p in facts.people}
    for row in facts.people:
        rows = by_name.get(row.name)
        who = f"{row.name} ({row.department} {row.title}, {row.role})"
        if not rows:
            # A row without a phone is not parsed as a person: the name alone must be there.
            if _squash(row.name) not in squashed:
                found.append(Mismatch("people", who, "not in the text"))
            elif row.phone:
                found.append(Mismatch("contact", f"{row.name}: {row.phone}", "not stated"))
            continue
        if row.phone not in {r.phone for r in rows}:
            found.append(Mismatch("contact", f"{row.name}: {row.phone}", _phones(rows)))
        if (row.department, row.title) not in {(r.department, r.title) for r in rows}:
            text = ", ".join(sorted({f"{r.department} {r.title}" for r in rows}))
            found.append(Mismatch("people", f"{row.name}: {row.department} {row.title}", text))
    for name, rows in by_name.items():
        if name not in live_names and name != officer.name:
            r = rows[0]
            found.append(
                Mismatch("people", "no enabled account", f"{name} ({r.department} {r.title})")
            )
    return found


def _phones(rows: list[TextPerson]) -> str:
    return ", ".join(sorted({r.phone for r in rows}))


def _officer(facts: PolicyFacts, squashed: str, people: list[TextPerson]) -> list[Mismatch]:
    officer = facts.settings.site.officer
    if officer.name not in squashed:
        return [Mismatch("officer", officer.name, "not in the text")]
    rows = [p for p in people if p.name == officer.name]
    found: list[Mismatch] = []
    if _squash(officer.phone) not in squashed or (
        rows and officer.phone not in {r.phone for r in rows}
    ):
        found.append(Mismatch("officer", f"phone {officer.phone}", _phones(rows) or "not stated"))
    if rows and (officer.department, officer.title) not in {(r.department, r.title) for r in rows}:
        text = ", ".join(sorted({f"{r.department} {r.title}" for r in rows}))
        found.append(Mismatch("officer", f"{officer.department} {officer.title}", text))
    if officer.email and _squash(officer.email) not in squashed:
        found.append(Mismatch("officer", f"e-mail {officer.email}", "not in the text"))
    return found


def _stated(facts: PolicyFacts, squashed: str) -> list[Mismatch]:
    site = facts.settings.site
    wanted = [
        ("places", f"storage place {site.storage_place}", site.storage_place),
        ("places", f"viewing place {site.viewing_place}", site.viewing_place),
        ("places", f"request desk {site.request_desk}", site.request_desk),
        ("legal_basis", site.legal_basis, site.legal_basis),
        *(("purposes", purpose, purpose) for purpose in site.purposes),
    ]
    found = [
        Mismatch(item, live, "not in the text")
        for item, live, value in wanted
        if _squash(value) not in squashed
    ]
    if "24시간" not in squashed and "24hours" not in squashed.lower():
        found.append(Mismatch("hours", "24 hours", "not in the text"))
    return found


def check_text(facts: PolicyFacts, text: str) -> list[Mismatch]:
    """Every difference between ``text`` and the live system, by item; empty: it matches."""
    lines = plain_lines(text)
    squashed = _squash("\n".join(lines))
    people = people_in(lines)
    return [
        *_cameras(facts, squashed, lines),
        *_retention(facts, lines),
        *_people(facts, squashed, people),
        *_officer(facts, squashed, people),
        *_stated(facts, squashed),
    ]
