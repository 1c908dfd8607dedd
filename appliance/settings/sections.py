"""The configuration sections of the box itself: site, storage, database, server, ledger,
retention, vault, viewing (the recording node's own sections are in ``recording``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from appliance.settings._base import _Section
from appliance.settings.object_store import ObjectStoreFields

__all__ = [
    "DatabaseConfig",
    "LedgerConfig",
    "OfficerConfig",
    "RetentionConfig",
    "ServerConfig",
    "SiteConfig",
    "StorageConfig",
    "VaultConfig",
    "ViewingConfig",
]


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


class StorageConfig(ObjectStoreFields, _Section):
    """Where footage, the database and the keys live."""

    data_dir: Path = Field(
        default=Path("/var/lib/appliance"),
        description="Encrypted segments, the SQLite database and exports. Mode 0700.",
    )
    key_dir: Path = Field(
        default=Path("/etc/appliance/keys"),
        description="Vault and signing keys, kept apart from the data dir. Mode 0700.",
    )
    segments_dir: Path | None = Field(
        default=None,
        description="Encrypted segments; unset: `segments` in the data dir. A separate disk keeps "
        "footage apart from the database and keys that a backup restores (design/backup.md).",
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
        if self.segments_dir is not None and keys.is_relative_to(self.segments_dir.resolve()):
            raise ValueError("key_dir must be outside segments_dir")
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
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Addresses or networks (CIDR) of the reverse proxy: only a connection from "
        "one of them may set the client address (X-Forwarded-For) and the scheme "
        "(X-Forwarded-Proto: https); anyone else's such headers are ignored.",
    )
    hsts_max_age_s: int = Field(
        default=365 * 86_400,
        ge=0,
        description="Strict-Transport-Security max-age sent on every HTTPS response (the "
        "appliance's own certificate or a trusted proxy's https); 0: not sent.",
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

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or network") from exc
        return value

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
    day_s: int = Field(
        default=86_400,
        ge=60,
        le=86_400,
        description="Seconds in the day that the groups' min_days and max_days count: 86400 on "
        "every installation. Tests and the soak benchmark (bench/soak.py) shorten it so that "
        "footage expires, and is purged by the real scheduler, within minutes. Refused when a "
        "camera's place carries a legal minimum retention.",
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
    recorded_streams_per_user: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Of those, recorded playbacks one user may have open at once (each "
        "decrypts and muxes on the box; 4 is the synchronised playback of NVR web clients, "
        "live streams share the recorder's packets and are not counted here).",
    )
    recorded_streams_per_box: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="Recorded playbacks the whole box serves at once.",
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
