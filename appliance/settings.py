"""The one typed configuration of the appliance.

One module because it is one configuration tree: every section is a field of ``Settings``, and
the cross-section checks and the generated reference read them together (hence its length).

Loaded from a TOML file (``--config`` or ``APPLIANCE_CONFIG``) with environment overrides
(``APPLIANCE_<SECTION>__<FIELD>``, e.g. ``APPLIANCE_SERVER__PORT=8443``). Unknown keys are
errors. Every rule the law puts on the configuration (forbidden locations R-REC-2, retention
bounds R-RET-2, audio consent R-REC-3) is checked here, at load, and a refusal names the field.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from appliance.errors import ConfigError
from appliance.legal_minimums import LEGAL_MINIMUMS, legal_minimum

__all__ = [
    "FORBIDDEN_LOCATION_TYPES",
    "AlarmEmailConfig",
    "AlarmWebhookConfig",
    "AlarmsConfig",
    "CameraConfig",
    "DatabaseConfig",
    "Disclosure",
    "GroupConfig",
    "LedgerConfig",
    "LocationType",
    "MetricsConfig",
    "OfficerConfig",
    "RecorderConfig",
    "RequestsConfig",
    "RetentionConfig",
    "ServerConfig",
    "Settings",
    "SiteConfig",
    "StorageConfig",
    "VaultConfig",
    "ViewingConfig",
    "load_settings",
]

CONFIG_ENV = "APPLIANCE_CONFIG"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class LocationType(StrEnum):
    """What a camera looks at. The last four are places PIPA art. 25(2) forbids (R-REC-2)."""

    lobby = "lobby"
    reception = "reception"
    waiting_room = "waiting_room"
    corridor = "corridor"
    consultation = "consultation"
    treatment = "treatment"
    recovery = "recovery"
    operating_room = "operating_room"
    pharmacy = "pharmacy"
    office = "office"
    server_room = "server_room"
    storage_room = "storage_room"
    stairs = "stairs"
    elevator = "elevator"
    entrance = "entrance"
    parking = "parking"
    outdoor = "outdoor"
    daycare = "daycare"
    other = "other"
    toilet = "toilet"
    bath = "bath"
    sauna = "sauna"
    changing_room = "changing_room"


FORBIDDEN_LOCATION_TYPES = frozenset(
    {LocationType.toilet, LocationType.bath, LocationType.sauna, LocationType.changing_room}
)


class Disclosure(StrEnum):
    """Who footage of a group may be disclosed to.

    ``standard``: the data subject and their representatives, police and agencies (PIPA 35).
    ``operating_room``: only investigators/courts, the medical dispute mediation agency, or with
    every data subject's consent (Medical Service Act 38-2, R-REQ-9).
    """

    standard = "standard"
    operating_room = "operating_room"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OfficerConfig(_Section):
    """The video protection officer (영상정보 보호책임자) named in the policy and on signs."""

    name: str = Field(min_length=1, description="Full name.")
    department: str = Field(min_length=1, description="Department, e.g. 원장단.")
    title: str = Field(min_length=1, description="Job title, e.g. 대표원장.")
    phone: str = Field(min_length=1, description="Contact phone printed on signs and notices.")
    email: str = Field(default="", description="Contact e-mail printed on notices.")


class SiteConfig(_Section):
    """The organisation that operates the cameras."""

    name: str = Field(min_length=1, description="Name of the clinic or site.")
    address: str = Field(default="", description="Postal address, printed on notices.")
    timezone: str = Field(
        default="Asia/Seoul", description="IANA zone for deadlines, notices and day boundaries."
    )
    purposes: list[str] = Field(
        default_factory=lambda: ["시설안전, 화재 예방", "고객의 안전을 위한 범죄예방"],
        description="Purposes of installation (PIPA 25(1)), printed in the policy and on signs.",
    )
    legal_basis: str = Field(
        default="「개인정보 보호법」 제25조 제1항", description="Legal basis of the installation."
    )
    storage_place: str = Field(default="전산통제실", description="Where the recorder stands.")
    viewing_place: str = Field(
        default="본원 회의실", description="Where on-site viewing of footage takes place."
    )
    request_desk: str = Field(default="경영기획본부", description="Where requests are received.")
    officer: OfficerConfig = Field(description="The video protection officer.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class StorageConfig(_Section):
    """Where footage, the database and the keys live."""

    data_dir: Path = Field(
        default=Path("/var/lib/appliance"),
        description="Encrypted segments, the SQLite database and exports. Mode 0700.",
    )
    key_dir: Path = Field(
        default=Path("/etc/appliance/keys"),
        description="Vault and signing keys, kept apart from the data dir. Mode 0700.",
    )
    min_free_bytes: int = Field(
        default=20 * 1024**3,
        ge=0,
        description="Below this much free space, storage-pressure purge starts (oldest first).",
    )
    alarm_free_bytes: int = Field(
        default=40 * 1024**3,
        ge=0,
        description="Below this much free space an alarm is raised, before any purge.",
    )

    @model_validator(mode="after")
    def _separate_dirs(self) -> StorageConfig:
        data, keys = self.data_dir.resolve(), self.key_dir.resolve()
        if data == keys or keys.is_relative_to(data):
            raise ValueError("key_dir must be outside data_dir (a copied data dir reveals nothing)")
        if self.alarm_free_bytes < self.min_free_bytes:
            raise ValueError("alarm_free_bytes must be at least min_free_bytes")
        return self


class DatabaseConfig(_Section):
    """The index and ledger database."""

    url: str = Field(
        default="",
        description="SQLAlchemy URL. Empty: SQLite file `appliance.db` in the data dir. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("only sqlite:// and postgresql+psycopg:// URLs are supported")
        return value


class ServerConfig(_Section):
    """The web viewer and request API."""

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port to listen on.")
    tls_cert: Path | None = Field(default=None, description="PEM certificate; enables HTTPS.")
    tls_key: Path | None = Field(default=None, description="PEM private key for tls_cert.")
    session_idle_s: int = Field(default=15 * 60, ge=60, description="Idle session timeout.")
    session_absolute_s: int = Field(
        default=8 * 3600, ge=300, description="Absolute session lifetime."
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark the session cookie Secure. Empty: only when tls_cert is set; "
        "set true behind a TLS-terminating reverse proxy.",
    )
    behind_tls_proxy: bool = Field(
        default=False,
        description="A TLS-terminating reverse proxy is in front: lets a non-loopback host "
        "serve plain HTTP to it, and marks cookies Secure. Without it (or tls_cert), a host "
        "other than loopback is refused.",
    )
    lockout_threshold: int = Field(
        default=5, ge=1, le=100, description="Consecutive failed logins before a lockout."
    )
    lockout_base_s: int = Field(
        default=30, ge=1, description="First lockout; each further failure doubles it."
    )
    lockout_max_s: int = Field(default=3600, ge=1, description="Longest lockout.")
    lockout_decay_s: int = Field(
        default=900,
        ge=1,
        description="One failed sign-in is forgiven per this many seconds since the last one "
        "(of an account and of a client address).",
    )
    client_failure_threshold: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Failed sign-ins from one client address (IPv6: its /64) before that "
        "client is refused (429) until they fade.",
    )
    login_rate_per_min: int = Field(
        default=30,
        ge=1,
        description="Sign-in attempts one client address may make per minute (429 beyond).",
    )
    login_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Sign-ins checked at once (each runs a 64 MiB argon2id); more get 503.",
    )
    max_body_bytes: int = Field(
        default=1024**2,
        ge=1024,
        description="Largest request body (413 beyond), except document uploads.",
    )
    max_upload_bytes: int = Field(
        default=24 * 1024**2,
        ge=1024,
        description="Largest body of a document upload route (requests.max_document_bytes "
        "plus the multipart overhead).",
    )
    limit_concurrency: int = Field(
        default=200,
        ge=8,
        description="Open connections and tasks uvicorn serves at once (503 beyond).",
    )
    backlog: int = Field(default=128, ge=1, description="Pending TCP connections queued.")
    timeout_keep_alive_s: int = Field(
        default=5, ge=1, le=300, description="Idle keep-alive connections close after this."
    )
    api_token_max_days: int = Field(
        default=365, ge=1, le=3650, description="Longest lifetime of an agency API token."
    )
    viewing_max_range_s: int = Field(
        default=24 * 3600,
        ge=60,
        description="Widest time range one playback session may reach (R-VIEW-3).",
    )
    viewing_max_s: int = Field(
        default=4 * 3600, ge=60, description="How long a viewing session stays open."
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        # Passwords and session cookies never cross the network in clear.
        if not _is_loopback(self.host) and self.tls_cert is None and not self.behind_tls_proxy:
            raise ValueError(
                f"server.host = {self.host!r} is reachable from the network without TLS: set "
                "server.tls_cert and server.tls_key, or server.behind_tls_proxy = true when a "
                "TLS-terminating proxy is in front (or listen on 127.0.0.1)"
            )
        if self.behind_tls_proxy and self.cookie_secure is False:
            raise ValueError(
                "server.cookie_secure = false contradicts server.behind_tls_proxy = true "
                "(the browser reaches the proxy over TLS)"
            )
        return self

    @property
    def secure_cookie(self) -> bool:
        """Whether cookies are marked Secure (set, or implied by TLS here or at a proxy)."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.tls_cert is not None or self.behind_tls_proxy


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


class RecorderConfig(_Section):
    """Camera ingest."""

    segment_target_s: int = Field(
        default=60, ge=2, le=600, description="Cut a segment at the first key frame after this."
    )
    rtsp_timeout_s: float = Field(default=5.0, gt=0, description="Socket timeout per camera.")
    reconnect_max_backoff_s: float = Field(
        default=2.0, gt=0, le=60, description="Cap of the reconnect backoff."
    )
    ingest: Literal["native", "ffmpeg"] = Field(
        default="native",
        description="How cameras are read: native (the appliance's own RTSP/TCP client, "
        "H.264/H.265 video, at under half the CPU) or ffmpeg (FFmpeg's RTSP demuxer through "
        "PyAV). Cameras whose group stores audio, and rtsps:// cameras, always use ffmpeg.",
    )


class LedgerConfig(_Section):
    """The tamper-evident access and lifecycle ledger."""

    retention_days: int = Field(
        default=730, ge=365, description="How long ledger entries are kept (cut at a checkpoint)."
    )
    head_interval_s: int = Field(
        default=300,
        ge=10,
        le=3600,
        description="How often a signed head is made (also when nothing changed: a heartbeat "
        "that `appliance ledger verify` checks for gaps of more than twice this, plus a minute).",
    )
    heads_file: Path | None = Field(
        default=None,
        description="Every signed head is also appended here, one JSON line each, fsynced: the "
        "copy outside the database that `appliance ledger verify --heads-file` compares with. "
        "Default: heads.log in the key dir. Put it where the database's users cannot write "
        "(another disk or host, or a file made append-only with `chattr +a`).",
    )
    syslog_socket: str = Field(
        default="/dev/log",
        description="Every signed head is also sent to syslog (facility authpriv) through this "
        "unix socket, when it exists; empty: not sent.",
    )


class RetentionConfig(_Section):
    """The purge scheduler (R-RET-1..4); see design/retention.md."""

    cycle_interval_s: int = Field(
        default=30,
        ge=1,
        le=30,
        description="How often a purge cycle runs; footage is gone at most 60 s after expiry.",
    )
    batch_size: int = Field(
        default=5000, ge=1, le=100_000, description="Segments per purge transaction."
    )
    retired_key_grace_s: int = Field(
        default=3600,
        ge=0,
        description="A rotated-out vault key is destroyed no sooner than this after rotation, "
        "and only once no footage is sealed to it.",
    )


class VaultConfig(_Section):
    """The vault's private keys and their passphrase (design/keys.md)."""

    kdf_strength: str = Field(
        default="moderate",
        pattern="^(interactive|moderate|sensitive)$",
        description="argon2id cost used when a passphrase is set: interactive (64 MiB), "
        "moderate (256 MiB) or sensitive (1 GiB).",
    )
    rotate_every_s: int = Field(
        default=86_400,
        ge=3600,
        le=30 * 86_400,
        description="The vault key is rotated this often (by the retention daemon, no passphrase "
        "needed); a retired key is destroyed once no footage or document is sealed to it, so "
        "deleted footage stays recoverable at most retention + this + "
        "retention.retired_key_grace_s (design/keys.md).",
    )


class ViewingConfig(_Section):
    """What viewing and exports may take from the box, so the recorder never starves (issue 13).

    Streams are counted per user and per box (429 beyond); only H.265 is transcoded, and only
    so many at once; recorded playback is paced near real time after a short burst.
    """

    streams_per_user: int = Field(
        default=16,
        ge=1,
        le=64,
        description="Streams (recorded or live) one user may have open at once (a 16-camera "
        "grid needs 16); more get 429.",
    )
    streams_per_box: int = Field(
        default=48, ge=1, le=1024, description="Streams the whole box serves at once."
    )
    transcodes_per_box: int = Field(
        default=2,
        ge=0,
        le=64,
        description="H.265 playbacks re-encoded to H.264 at once (each takes a core); 0: never.",
    )
    burst_s: float = Field(
        default=10.0,
        ge=0,
        le=600,
        description="Seconds of recorded footage sent at once when a stream starts (or seeks); "
        "after that it is paced by its media time, near real time.",
    )
    recheck_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="How often a stream re-reads its viewing session, sign-in and grant "
        "(ended, expired, idle, revoked: the stream stops).",
    )
    export_queue: int = Field(
        default=4,
        ge=1,
        le=100,
        description="Export jobs waiting to be built (one is built at a time); more get 429.",
    )


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


class GroupConfig(_Section):
    """A retention and disclosure policy shared by cameras (R-RET-2)."""

    name: Annotated[str, Field(pattern=ID_PATTERN, description="Group id used by cameras.")]
    description: str = Field(default="", description="Shown in the policy document.")
    min_days: int = Field(
        default=0, ge=0, le=3650, description="Footage younger than this is never purged."
    )
    max_days: int = Field(
        default=30, ge=1, le=3650, description="Footage is destroyed once older than this."
    )
    audio_allowed: bool = Field(
        default=False, description="Keep audio tracks (only with recorded consent, R-REC-3)."
    )
    audio_consent_ref: str = Field(
        default="", description="Reference of the recorded consent that allows audio."
    )
    disclosure: Disclosure = Field(
        default=Disclosure.standard, description="Disclosure rule (R-REQ-9 for operating rooms)."
    )

    @model_validator(mode="after")
    def _bounds(self) -> GroupConfig:
        if self.max_days < self.min_days:
            raise ValueError(
                f"max_days ({self.max_days}) is below min_days ({self.min_days}) (R-RET-2)"
            )
        if self.audio_allowed and not self.audio_consent_ref.strip():
            raise ValueError(
                "audio_allowed needs audio_consent_ref, the recorded consent (R-REC-3)"
            )
        return self


class CameraConfig(_Section):
    """One fixed camera."""

    id: Annotated[str, Field(pattern=ID_PATTERN, description="Stable id, e.g. cam01.")]
    name: str = Field(min_length=1, description="Display name, e.g. 1층 로비.")
    location: str = Field(min_length=1, description="Where it hangs and what it covers.")
    location_type: LocationType = Field(
        description="Kind of place; some are forbidden (R-REC-2), some carry a legal minimum "
        "retention the camera's group must keep (R-RET-2): "
        + ", ".join(f"{m.location_type} {m.min_days} days" for m in LEGAL_MINIMUMS.values())
        + " (sources in appliance/legal_minimums.py)."
    )
    url: str = Field(description="rtsp:// or rtsps:// URL of the camera's stream.")
    group: str = Field(description="Name of its [[groups]] entry.")
    enabled: bool = Field(default=True, description="Record this camera.")
    ingest: Literal["native", "ffmpeg"] | None = Field(
        default=None, description="Overrides [recorder] ingest for this camera (an odd camera)."
    )

    @field_validator("location_type")
    @classmethod
    def _allowed_place(cls, value: LocationType) -> LocationType:
        if value in FORBIDDEN_LOCATION_TYPES:
            raise ValueError(f"cameras are forbidden in a {value.value} (PIPA art. 25(2), R-REC-2)")
        return value

    @field_validator("url")
    @classmethod
    def _rtsp(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("rtsp", "rtsps"):
            raise ValueError(f"unsupported scheme {parts.scheme!r}: use rtsp:// or rtsps://")
        if not parts.hostname:
            raise ValueError("the URL has no host")
        return value


class Settings(BaseSettings):
    """Everything the appliance is configured with."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix="APPLIANCE_",
        env_nested_delimiter="__",
    )

    site: SiteConfig
    storage: StorageConfig = Field(default_factory=StorageConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    recorder: RecorderConfig = Field(default_factory=RecorderConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    vault: VaultConfig = Field(default_factory=VaultConfig)
    requests: RequestsConfig = Field(default_factory=RequestsConfig)
    viewing: ViewingConfig = Field(default_factory=ViewingConfig)
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    groups: list[GroupConfig] = Field(min_length=1, description="Retention groups.")
    cameras: list[CameraConfig] = Field(default_factory=list, description="Cameras.")

    @model_validator(mode="after")
    def _references(self) -> Settings:
        _unique("groups", [g.name for g in self.groups], "name")
        _unique("cameras", [c.id for c in self.cameras], "id")
        groups = {g.name: g for g in self.groups}
        for index, camera in enumerate(self.cameras):
            group = groups.get(camera.group)
            if group is None:
                raise ValueError(
                    f"cameras[{index}].group: {camera.group!r} is not a defined group "
                    f"(defined: {', '.join(sorted(groups))})"
                )
            _check_legal_minimum(index, camera, group)
        return self

    @property
    def database_url(self) -> str:
        """The configured URL, or the embedded SQLite file in the data dir."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.storage.data_dir / 'appliance.db'}"

    @property
    def segments_dir(self) -> Path:
        return self.storage.data_dir / "segments"

    @property
    def exports_dir(self) -> Path:
        return self.storage.data_dir / "exports"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def group(self, name: str) -> GroupConfig:
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)

    def camera(self, camera_id: str) -> CameraConfig:
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise KeyError(camera_id)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file; the file's values come in through init_settings.
        return (env_settings, init_settings)


def _check_legal_minimum(index: int, camera: CameraConfig, group: GroupConfig) -> None:
    """Refuse a camera whose group cannot keep its footage as long as the law requires."""
    minimum = legal_minimum(camera.location_type.value)
    if minimum is None:
        return
    for bound in ("max_days", "min_days"):
        days = getattr(group, bound)
        if days < minimum.min_days:
            raise ValueError(
                f"cameras[{index}]: camera {camera.id!r} ({camera.location_type.value}) is in "
                f"group {group.name!r} whose {bound} ({days}) is below the legal minimum for "
                f"{camera.location_type.value} footage, {minimum.describe()}"
            )


def _unique(section: str, values: list[str], field: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ValueError(f"{section}[{index}].{field}: {value!r} is duplicated")
        seen.add(value)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]
        ).lstrip(".")
        message = re.sub(r"^(Value error|Assertion failed), ", "", item["msg"])
        lines.append(f"{loc or '(top level)'}: {message}")
    return "; ".join(lines)


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Load and check the configuration; raise ConfigError naming the bad field."""
    if path is None:
        env_path = os.environ.get(CONFIG_ENV)
        if not env_path:
            raise ConfigError(f"no configuration: pass --config or set {CONFIG_ENV}")
        path = env_path
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from exc
