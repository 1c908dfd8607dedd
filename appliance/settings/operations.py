"""The configuration sections of the work around the footage: requests, alarms and their
delivery, metrics."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from appliance.settings._base import _Section

__all__ = [
    "AlarmEmailConfig",
    "AlarmWebhookConfig",
    "AlarmsConfig",
    "MetricsConfig",
    "RequestsConfig",
]


class RequestsConfig(_Section):
    """Requests for viewing, copy and deletion, and exports (R-REQ-1..9; design/requests.md)."""

    notice_days: int = Field(
        default=10,
        ge=1,
        le=10,
        description="Calendar days after receipt (the day of receipt not counted) within which "
        "the decision is notified (R-REQ-3/4/7); the law allows at most 10.",
    )
    due_soon_days: int = Field(
        default=3, ge=0, le=9, description="Warn (alarm) this many days before a notice is due."
    )
    hold_grace_days: int = Field(
        default=30,
        ge=0,
        le=365,
        description="After a request closes its hold stays this long (time to object), then "
        "the footage follows its group's retention again.",
    )
    max_export_s: int = Field(
        default=3600, ge=1, description="Longest footage range one export may cover."
    )
    max_document_bytes: int = Field(
        default=20 * 1024**2, ge=1024, description="Largest uploaded document (official letter)."
    )
    export_kdf_strength: str = Field(
        default="moderate",
        pattern="^(interactive|moderate|sensitive)$",
        description="argon2id cost of an export's transport passphrase.",
    )
    check_interval_s: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="How often deadlines are checked for alarms (and expired copies destroyed).",
    )
    export_keep_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="An export package, and the vault's copy of its key, is destroyed this "
        "many days after its hand-over or its request's closure, whichever comes first "
        "(time to re-deliver a failed copy; the ledger keeps its hash as proof).",
    )
    document_keep_days: int = Field(
        default=90,
        ge=0,
        le=1095,
        description="Documents of a request (ID copies, official letters) are destroyed this "
        "many days after the request closes (90: the period to contest the handling; at most "
        "3 years, the limitation of a damages claim).",
    )
    # Agency API limits (issue 13): one agency token must not be able to hold so much footage
    # that the purge stops and the disk fills. Counted per agency account, over all its tokens.
    agency_max_range_s: int = Field(
        default=86_400,
        ge=60,
        le=31 * 86_400,
        description="Longest footage range one agency request may name (default 24 h: the day "
        "of an incident); a longer span takes several requests or is received at the desk.",
    )
    agency_max_cameras: int = Field(
        default=16, ge=1, le=64, description="Most cameras one agency request may name."
    )
    agency_per_hour: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Requests one agency account may submit per rolling hour; more get 429.",
    )
    agency_max_open: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Requests one agency account may have open (not closed) at once; more get "
        "429 until the officer closes some.",
    )


# -- alarms and metrics (issue 15; design/health.md) -------------------------------------------


def _check_kinds(kinds: Iterable[str]) -> None:
    """A misspelt alarm kind would silently never be delivered: refuse it at load."""
    from appliance.alarms import AlarmKind  # the kinds' one list (no import cycle: models only)

    known = {kind.value for kind in AlarmKind}
    unknown = sorted(set(kinds) - known - {"*"})
    if unknown:
        raise ValueError(f"unknown alarm kinds {unknown} (known: {', '.join(sorted(known))})")


class AlarmEmailConfig(_Section):
    """E-mail of alarms over SMTP: what happened and where to look, never personal data."""

    host: str = Field(default="", description="SMTP server; empty: no e-mail is sent.")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    sender: str = Field(default="", description="The From address, e.g. cctv@clinic.example.")
    starttls: bool = Field(
        default=True, description="Upgrade the connection with STARTTLS before sending."
    )
    username: str = Field(default="", description="SMTP login (empty: none).")
    password: str = Field(default="", description="SMTP password (with username).")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="SMTP socket timeout.")
    recipients: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Addresses per alarm kind (e.g. camera_down = ["it@clinic.example"]); the '
        'key "*" receives every kind.',
    )

    @field_validator("recipients")
    @classmethod
    def _known_kinds(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        _check_kinds(value)
        return value


class AlarmWebhookConfig(_Section):
    """A JSON POST per alarm, for a messenger bridge."""

    url: str = Field(default="", description="http(s) URL to POST to; empty: no webhook.")
    kinds: list[str] = Field(
        default_factory=lambda: ["*"], description='Alarm kinds sent ("*": every kind).'
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="HTTP timeout.")

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        _check_kinds(value)
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("the webhook url must be http:// or https://")
        return value


class AlarmsConfig(_Section):
    """The health daemon: checks that raise and clear alarms, and their delivery to people."""

    camera_down_after_s: int = Field(
        default=300,
        ge=5,
        le=86_400,
        description="A camera not recording for this long raises camera_down.",
    )
    check_interval_s: float = Field(
        default=10.0, gt=0, le=600, description="How often the health checks run."
    )
    ledger_verify_every_s: int = Field(
        default=3600,
        ge=60,
        le=7 * 86_400,
        description="How often the whole ledger chain is verified (result on the health page).",
    )
    retry_base_s: float = Field(
        default=30.0, gt=0, le=3600, description="First retry of a failed delivery after this."
    )
    retry_max_s: float = Field(
        default=3600.0, gt=0, description="Retries back off (doubling) up to this interval."
    )
    max_attempts: int = Field(
        default=10, ge=1, le=100, description="A delivery is given up (and shown) after this."
    )
    page_url: str = Field(
        default="",
        description="The health page as people reach it (e.g. https://cctv.clinic.example/"
        "health), named in messages; empty: the path /health.",
    )
    email: AlarmEmailConfig = Field(default_factory=AlarmEmailConfig)
    webhook: AlarmWebhookConfig = Field(default_factory=AlarmWebhookConfig)


class MetricsConfig(_Section):
    """``GET /metrics`` (Prometheus text format)."""

    token: str = Field(
        default="",
        description="Bearer token a scraper must send; empty: /metrics answers loopback only.",
    )
