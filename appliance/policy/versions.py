"""Published versions of the policy (R-DOC-4): publishing, the history, and the check that the
published text still matches the live system (alarm ``policy_outdated``).

What is published, hashed and compared is the Korean Markdown of the policy with annex 1. The
dates printed in it (announcement, effective date, the annex's reference date) are those of the
version, so the live text rendered with the latest version's dates has the same hash exactly
when nothing the policy says has changed.
"""

from __future__ import annotations

import difflib
import hashlib
from datetime import date, timedelta

from sqlmodel import Session, col, select

from appliance.alarms import AlarmKind, clear_alarm, raise_alarm
from appliance.clock import from_ms
from appliance.errors import ValidationFailed
from appliance.ledger import EventType, Ledger
from appliance.models import PolicyVersion
from appliance.policy.content import policy_document
from appliance.policy.document import to_markdown
from appliance.policy.facts import PolicyFacts

__all__ = [
    "NOTICE_DAYS",
    "PUBLISHED_LANG",
    "check_current",
    "history",
    "latest_version",
    "publish",
    "published_text",
    "sha256_of",
    "site_today",
]

NOTICE_DAYS = 7  # a change takes effect at least 7 days after its announcement (art. 16.9)
PUBLISHED_LANG = "ko"


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def site_today(facts: PolicyFacts, now_ms: int) -> date:
    """Today in the site's zone (dates on notices are local dates)."""
    return from_ms(now_ms).astimezone(facts.settings.zone).date()


def published_text(facts: PolicyFacts, announced: date, effective: date) -> str:
    """The text a version announced on ``announced`` would publish now."""
    doc = policy_document(facts, PUBLISHED_LANG, announced=announced, effective=effective)
    return to_markdown(doc)


def latest_version(session: Session) -> PolicyVersion | None:
    return session.exec(select(PolicyVersion).order_by(col(PolicyVersion.number).desc())).first()


def history(session: Session) -> list[PolicyVersion]:
    """Every published version, newest first."""
    return list(
        session.exec(select(PolicyVersion).order_by(col(PolicyVersion.number).desc())).all()
    )


def _diff(previous: PolicyVersion | None, text: str, number: int) -> str:
    old = previous.text if previous is not None else ""
    old_name = f"v{previous.number}" if previous is not None else "(none)"
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=old_name,
        tofile=f"v{number}",
    )
    return "".join(lines)


def publish(
    session: Session,
    ledger: Ledger,
    facts: PolicyFacts,
    *,
    actor: str,
    now_ms: int,
    effective: date | None = None,
) -> PolicyVersion:
    """Publish the live policy as a new version, effective ``effective`` (default and earliest:
    7 days after today); recorded in the ledger in the same transaction; clears the alarm."""
    today = site_today(facts, now_ms)
    earliest = today + timedelta(days=NOTICE_DAYS)
    effective = effective or earliest
    if effective < earliest:
        raise ValidationFailed(
            f"the effective date must be at least {NOTICE_DAYS} days after the announcement "
            f"(policy art. 16.9): {earliest.isoformat()} or later"
        )
    previous = latest_version(session)
    number = 1 if previous is None else previous.number + 1
    text = published_text(facts, today, effective)
    version = PolicyVersion(
        number=number,
        lang=PUBLISHED_LANG,
        text=text,
        sha256=sha256_of(text),
        diff=_diff(previous, text, number),
        announced_on=today.isoformat(),
        effective_on=effective.isoformat(),
        published_ms=now_ms,
        actor=actor[:200],
    )
    session.add(version)
    session.flush()
    ledger.append(
        EventType.policy_published,
        actor=actor,
        ref=f"policy:{number}",
        data={
            "version": number,
            "sha256": version.sha256,
            "lang": PUBLISHED_LANG,
            "announced_on": version.announced_on,
            "effective_on": version.effective_on,
            "previous_sha256": previous.sha256 if previous is not None else None,
        },
        session=session,
    )
    clear_alarm(session, AlarmKind.policy_outdated, now_ms)
    return version


def check_current(session: Session, facts: PolicyFacts, now_ms: int) -> bool:
    """Raise ``policy_outdated`` while the live text differs from the latest published version,
    clear it when they agree (or nothing was ever published); return whether it is current."""
    latest = latest_version(session)
    if latest is None:
        clear_alarm(session, AlarmKind.policy_outdated, now_ms)
        return True
    live = published_text(
        facts, date.fromisoformat(latest.announced_on), date.fromisoformat(latest.effective_on)
    )
    if sha256_of(live) == latest.sha256:
        clear_alarm(session, AlarmKind.policy_outdated, now_ms)
        return True
    changed = sum(
        1
        for line in difflib.unified_diff(latest.text.splitlines(), live.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )
    raise_alarm(
        session,
        AlarmKind.policy_outdated,
        f"the published operating policy (version {latest.number}) no longer matches the "
        f"configuration and accounts ({changed} lines differ): publish a new version on the "
        "policy page",
        now_ms,
    )
    return False
