"""The three texts as documents: the operating policy (R-DOC-1, with annex 1), the signs
(R-DOC-2, one page per location group) and the access annex (R-DOC-3). Pure functions of
``PolicyFacts``, the language and the dates printed.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from appliance.access import AnnexRow
from appliance.policy.document import Block, Document, Heading, Items, PageBreak, Para, Table
from appliance.policy.facts import GroupFacts, PolicyFacts
from appliance.policy.texts import LOCATION_LABELS, TEXTS
from appliance.settings import CameraConfig

__all__ = [
    "annex_document",
    "location_groups",
    "policy_document",
    "retention_text",
    "signs_document",
]


def _row(spec: str) -> tuple[str, ...]:
    return tuple(spec.split("|"))


def retention_text(group: GroupFacts, lang: str) -> str:
    t = TEXTS[lang]
    g = group.group
    if g.min_days and g.min_days == g.max_days:
        return t["ret_days_exact"].format(max=g.max_days)
    if g.min_days:
        return t["ret_days_min"].format(min=g.min_days, max=g.max_days)
    return t["ret_days"].format(max=g.max_days)


def _minimums(group: GroupFacts, lang: str) -> str:
    if not group.minimums:
        return TEXTS[lang]["ret_none"]
    unit = "일" if lang == "ko" else " days"
    return "; ".join(f"{m.min_days}{unit}: {m.source}" for m in group.minimums)


def _group_of(facts: PolicyFacts, camera: CameraConfig) -> GroupFacts:
    return next(g for g in facts.groups if g.group.name == camera.group)


def _group_label(group: GroupFacts) -> str:
    g = group.group
    return f"{g.name} ({g.description})" if g.description else g.name


def _annex_blocks(facts: PolicyFacts, lang: str, as_of: date) -> list[Block]:
    t = TEXTS[lang]
    site, officer = facts.settings.site, facts.settings.site.officer
    rows = tuple(_annex_row(person, lang) for person in facts.people)
    return [
        Heading(2, t["annex_title"].format(site=site.name)),
        Para(t["annex_date"].format(date=as_of.isoformat())),
        Heading(3, t["annex_chief"]),
        Table(
            _row(t["annex_chief_header"]),
            ((officer.department, officer.title, officer.name, officer.phone),),
        ),
        Heading(3, t["annex_people"]),
        Table(_row(t["annex_header"]), rows) if rows else Para(t["annex_empty"]),
    ]


def _annex_row(person: AnnexRow, lang: str) -> tuple[str, ...]:
    t = TEXTS[lang]
    cameras = (
        t["annex_all"]
        if person.cameras == ["*"]
        else ", ".join(person.cameras)
        if person.cameras
        else t["annex_none"]
    )
    role = t.get(f"role.{person.role}", person.role)
    return (person.department, person.title, person.name, person.phone, role, cameras)


def _safeguards(facts: PolicyFacts, lang: str) -> tuple[str, ...]:
    t, s = TEXTS[lang], facts.safeguards
    items = []
    if s.encryption_at_rest:
        items.append(t["sg_enc"])
    items.append(t["sg_ledger"].format(minutes=max(1, s.signed_heads_every_s // 60)))
    if s.totp_accounts:
        items.append(t["sg_totp"].format(n=s.staff_accounts, k=s.totp_accounts))
    if s.auto_destruction:
        items.append(t["sg_destroy"])
    if s.vault_passphrase:
        items.append(t["sg_pass"])
    if s.https:
        items.append(t["sg_https"])
    items.append(t["sg_access"])
    return tuple(items)


def policy_document(facts: PolicyFacts, lang: str, *, announced: date, effective: date) -> Document:
    """The operating policy with its 8 items (R-DOC-1) and annex 1, as of ``announced``."""
    t = TEXTS[lang]
    site = facts.settings.site
    officer = site.officer
    roles = Counter(p.role for p in facts.people)
    role_text = ", ".join(f"{t.get(f'role.{r}', r)} {n}" for r, n in sorted(roles.items()))
    cameras = tuple(
        (str(i), f"{c.id} {c.name}", c.location, retention_text(_group_of(facts, c), lang))
        for i, c in enumerate(facts.cameras, start=1)
    )
    retention = tuple(
        (
            _group_label(g),
            ", ".join(c.id for c in g.cameras),
            retention_text(g, lang),
            _minimums(g, lang),
        )
        for g in facts.groups
    )
    requests_items = [
        t["req_where"].format(desk=site.request_desk, phone=officer.phone),
        t["req_how"],
        t["req_notice"].format(days=facts.settings.requests.notice_days),
        t["req_onsite"].format(place=site.viewing_place),
        t["req_mask"],
        t["req_fee"],
    ]
    if any(g.group.disclosure == "operating_room" for g in facts.groups):
        requests_items.append(t["req_or"])
    blocks: list[Block] = [
        Heading(1, t["title"].format(site=site.name)),
        Para(t["intro"].format(site=site.name)),
        Heading(2, t["s1"]),
        Para(t["basis"].format(basis=site.legal_basis)),
        Para(t["purposes"]),
        Items(tuple(site.purposes)),
        Heading(2, t["s2"]),
        Para(t["count"].format(n=facts.camera_count)),
        Table(_row(t["cam_header"]), cameras),
        Para(t["forbidden"]),
        Heading(2, t["s3"]),
        Table(
            _row(t["mgr_header"]),
            (
                (
                    t["mgr_row"],
                    officer.department,
                    officer.title,
                    officer.name,
                    " ".join(x for x in (officer.phone, officer.email) if x),
                ),
            ),
        ),
        Para(t["access_count"].format(n=len(facts.people), roles=role_text or "-")),
        Para(t["access_rule"]),
        Heading(2, t["s4"]),
        Items((t["hours"],)),
        Table(_row(t["ret_header"]), retention),
        Items((t["storage"].format(place=site.storage_place), t["handling"])),
        Heading(2, t["s5"]),
        Items((t["check_how"], t["check_where"].format(place=site.viewing_place))),
        Heading(2, t["s6"]),
        Items(tuple(requests_items)),
        Heading(2, t["s7"]),
        Items(_safeguards(facts, lang)),
        Heading(2, t["s8"]),
        Items((t["other_outsource"], t["other_change"])),
        Para(t["dates"].format(announced=announced.isoformat(), effective=effective.isoformat())),
        PageBreak(),
        *_annex_blocks(facts, lang, announced),
    ]
    return Document(t["title"].format(site=site.name), lang, tuple(blocks))


def annex_document(facts: PolicyFacts, lang: str, *, as_of: date) -> Document:
    """Annex 1 alone (R-DOC-3), printable, with its reference date."""
    t = TEXTS[lang]
    title = t["annex_title"].format(site=facts.settings.site.name)
    return Document(title, lang, tuple(_annex_blocks(facts, lang, as_of)))


def location_groups(facts: PolicyFacts) -> list[tuple[str, list[CameraConfig]]]:
    """Cameras by the kind of place they look at, in the configuration's order."""
    found: dict[str, list[CameraConfig]] = {}
    for camera in facts.cameras:
        found.setdefault(camera.location_type.value, []).append(camera)
    return list(found.items())


def signs_document(facts: PolicyFacts, lang: str) -> Document:
    """One sign per location group (R-DOC-2): purpose, place and range, hours, retention,
    manager and contact; each on its own printed page."""
    t = TEXTS[lang]
    site, officer = facts.settings.site, facts.settings.site.officer
    blocks: list[Block] = []
    for kind, cameras in location_groups(facts):
        if blocks:
            blocks.append(PageBreak())
        groups = {c.group: _group_of(facts, c) for c in cameras}
        retention = " / ".join(retention_text(g, lang) for g in groups.values())
        blocks += [
            Heading(1, f"{t['sign_title']}: {LOCATION_LABELS[lang].get(kind, kind)}"),
            Para(t["sign_headline"], big=True),
            Items(
                (
                    t["sign_purpose"].format(purposes=", ".join(site.purposes)),
                    t["sign_hours"],
                    t["sign_retention"].format(retention=retention),
                )
            ),
            Para(t["sign_place"]),
            Items(tuple(f"{c.name}: {c.location}" for c in cameras)),
            Para(
                t["sign_manager"].format(
                    name=officer.name,
                    dept=officer.department,
                    title=officer.title,
                    phone=officer.phone,
                )
            ),
            Para(site.name),
        ]
    return Document(t["signs_title"].format(site=site.name), lang, tuple(blocks))
