"""The video-device operating policy, its signs and access annex, generated from the live
system and kept true (issue 17, R-DOC-1..4; design/policy.md).

- ``facts``: what the texts say, read from the configuration, accounts and safeguards;
- ``texts`` / ``content``: the wording (Korean, English) and the three documents;
- ``document``: the block model and its Markdown and printable HTML renderings;
- ``versions``: publishing (7 days' notice, diff, ledger) and the ``policy_outdated`` check;
- ``check``: comparing a published text with the live system, item by item;
- ``service``: ``PolicyService``, what the CLI, the page and the health daemon call.
"""

from __future__ import annotations

from appliance.policy.check import Mismatch, check_text
from appliance.policy.document import Document, to_html, to_markdown
from appliance.policy.facts import PolicyFacts, gather_facts
from appliance.policy.service import PolicyService, PolicyStatus, What
from appliance.policy.versions import NOTICE_DAYS, PUBLISHED_LANG

__all__ = [
    "NOTICE_DAYS",
    "PUBLISHED_LANG",
    "Document",
    "Mismatch",
    "PolicyFacts",
    "PolicyService",
    "PolicyStatus",
    "What",
    "check_text",
    "gather_facts",
    "to_html",
    "to_markdown",
]
