"""What the operating policy says, read from the live system: the configuration, the accounts
and their grants, and which safeguards are switched on (R-DOC-1..3).

``PolicyFacts`` is plain data; every text (policy, signs, annex) and the check of a published
text are pure functions of it, so a test can build one from a configuration and a database and
a change of either shows in the rendered text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, func, select

from appliance.access import AccessService, AnnexRow, Principal
from appliance.clock import Clock
from appliance.db import Database
from appliance.ledger import Ledger
from appliance.legal_minimums import LegalMinimum, legal_minimum
from appliance.models import Role, User
from appliance.settings import CameraConfig, GroupConfig, Settings

__all__ = ["GroupFacts", "PolicyFacts", "Safeguards", "gather_facts", "person_rows"]


@dataclass(frozen=True)
class GroupFacts:
    """A retention group, its cameras and the legal minimums its cameras carry."""

    group: GroupConfig
    cameras: tuple[CameraConfig, ...]
    minimums: tuple[LegalMinimum, ...]


@dataclass(frozen=True)
class Safeguards:
    """What this installation actually has switched on (only these are printed)."""

    encryption_at_rest: bool  # always: every segment is sealed to the vault
    signed_heads_every_s: int  # the ledger and its signed heads (always on)
    heads_copy: bool  # the heads are also written outside the database
    totp_accounts: int  # enabled staff accounts with a second factor
    staff_accounts: int
    auto_destruction: bool  # always: the retention daemon purges expired footage
    vault_passphrase: bool  # private keys sealed under a passphrase
    https: bool  # the web viewer served over TLS (here or by a proxy)


@dataclass(frozen=True)
class PolicyFacts:
    """Everything the policy, the signs and the annex print."""

    settings: Settings
    groups: tuple[GroupFacts, ...]  # groups with at least one enabled camera, config order
    cameras: tuple[CameraConfig, ...]  # enabled cameras, config order
    people: tuple[AnnexRow, ...]  # enabled staff accounts with access (annex 1)
    safeguards: Safeguards

    @property
    def camera_count(self) -> int:
        return len(self.cameras)


def person_rows(rows: list[AnnexRow]) -> tuple[AnnexRow, ...]:
    """The annex's people: staff accounts (an agency's API account is a recipient, not staff)."""
    return tuple(row for row in rows if row.role != Role.agency.value)


def _groups(settings: Settings, cameras: tuple[CameraConfig, ...]) -> tuple[GroupFacts, ...]:
    found = []
    for group in settings.groups:
        members = tuple(c for c in cameras if c.group == group.name)
        if not members:
            continue
        minimums = {
            m.location_type: m
            for m in (legal_minimum(c.location_type.value) for c in members)
            if m is not None
        }
        found.append(GroupFacts(group, members, tuple(minimums.values())))
    return tuple(found)


def gather_facts(
    settings: Settings, db: Database, clock: Clock, ledger: Ledger, *, vault_passphrase: bool
) -> PolicyFacts:
    """Read the facts now (the accounts through ``AccessService.annex``, as the console)."""
    access = AccessService(db, clock, settings.server, ledger)
    people = person_rows(access.annex(Principal.local("policy")))
    with db.session() as session:
        staff = col(User.role) != Role.agency.value
        enabled = col(User.disabled).is_(False)
        totp = session.exec(
            select(func.count())
            .select_from(User)
            .where(staff, enabled, col(User.totp_secret).is_not(None))
        ).one()
    cameras = tuple(c for c in settings.cameras if c.enabled)
    server = settings.server
    safeguards = Safeguards(
        encryption_at_rest=True,
        signed_heads_every_s=settings.ledger.head_interval_s,
        heads_copy=True,
        totp_accounts=int(totp),
        staff_accounts=len(people),
        auto_destruction=True,
        vault_passphrase=vault_passphrase,
        https=server.tls_cert is not None or server.cookie_secure is True,
    )
    return PolicyFacts(settings, _groups(settings, cameras), cameras, people, safeguards)
