"""``PolicyService``: the live facts, the three texts in either format, publishing, the
history, the check of a published text and the outdated-policy check, over one configuration,
database, clock, ledger and vault (what the CLI, the page and the health daemon share).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from appliance.access import Permission, Principal, Via
from appliance.clock import Clock
from appliance.db import Database
from appliance.errors import PermissionDenied
from appliance.ledger import Ledger
from appliance.models import PolicyVersion
from appliance.policy.check import Mismatch, check_text
from appliance.policy.content import annex_document, policy_document, signs_document
from appliance.policy.document import Document, to_html, to_markdown
from appliance.policy.facts import PolicyFacts, gather_facts
from appliance.policy.versions import (
    NOTICE_DAYS,
    check_current,
    history,
    latest_version,
    publish,
    published_text,
    sha256_of,
    site_today,
)
from appliance.settings import Settings
from appliance.vault import Vault

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["PolicyService", "PolicyStatus", "What"]


class What(StrEnum):
    policy = "policy"
    signs = "signs"
    annex = "annex"


@dataclass(frozen=True)
class PolicyStatus:
    """Whether the live text matches the latest published version."""

    latest: PolicyVersion | None
    current: bool  # no version yet counts as current (nothing published can be outdated)


def _need(principal: Principal, permission: Permission) -> None:
    # Root at the appliance's console may publish too (as it may name the officer).
    if not principal.can(permission) and principal.via is not Via.local:
        raise PermissionDenied(f"this needs the permission {permission.value}")


@dataclass
class PolicyService:
    settings: Settings
    db: Database
    clock: Clock
    ledger: Ledger
    vault: Vault

    @classmethod
    def of(cls, ctx: AppContext) -> PolicyService:
        return cls(ctx.settings, ctx.db, ctx.clock, ctx.ledger, ctx.vault)

    def facts(self) -> PolicyFacts:
        return gather_facts(
            self.settings,
            self.db,
            self.clock,
            self.ledger,
            vault_passphrase=self.vault.has_passphrase,
        )

    def document(self, what: What, lang: str, facts: PolicyFacts | None = None) -> Document:
        """The text as it would be published today (effective 7 days on), signs or annex."""
        facts = facts or self.facts()
        today = site_today(facts, self.clock.now_ms())
        if what is What.signs:
            return signs_document(facts, lang)
        if what is What.annex:
            return annex_document(facts, lang, as_of=today)
        return policy_document(
            facts, lang, announced=today, effective=today + timedelta(days=NOTICE_DAYS)
        )

    def render(self, what: What, lang: str, fmt: str, *, stylesheet: str | None = None) -> str:
        doc = self.document(what, lang)
        return to_html(doc, stylesheet=stylesheet) if fmt == "html" else to_markdown(doc)

    def earliest_effective(self) -> date:
        """The earliest effective date a publication today may carry (in the site's zone)."""
        return site_today(self.facts(), self.clock.now_ms()) + timedelta(days=NOTICE_DAYS)

    def publish(self, principal: Principal, effective: date | None = None) -> PolicyVersion:
        _need(principal, Permission.publish_policy)
        facts = self.facts()
        with self.db.session() as session:
            version = publish(
                session,
                self.ledger,
                facts,
                actor=principal.actor,
                now_ms=self.clock.now_ms(),
                effective=effective,
            )
            session.commit()
            session.refresh(version)
            session.expunge(version)
            return version

    def history(self) -> list[PolicyVersion]:
        with self.db.session() as session:
            versions = history(session)
            for version in versions:
                session.expunge(version)
            return versions

    def status(self) -> PolicyStatus:
        """Compare without touching alarms (the page shows it; the daemon raises)."""
        facts = self.facts()
        with self.db.session() as session:
            latest = latest_version(session)
            if latest is None:
                return PolicyStatus(None, True)
            live = published_text(
                facts,
                date.fromisoformat(latest.announced_on),
                date.fromisoformat(latest.effective_on),
            )
            session.expunge(latest)
            return PolicyStatus(latest, sha256_of(live) == latest.sha256)

    def check_current(self) -> bool:
        """The daemon's check: raise or clear ``policy_outdated``."""
        facts = self.facts()
        with self.db.session() as session:
            current = check_current(session, facts, self.clock.now_ms())
            session.commit()
            return current

    def check_text(self, text: str) -> list[Mismatch]:
        return check_text(self.facts(), text)
