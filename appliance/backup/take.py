"""Taking a backup: sign a fresh ledger head, copy the database online, write the archive,
record it in the ledger, prune old archives (design/backup.md).

What goes in (payload members):

- ``manifest.json``: when, the appliance version, the schema revision, the database kind, the
  ledger tip and head, the key files listed.
- ``database/appliance.db`` (SQLite, minimised) or ``database/appliance.pgdump`` (custom format).
- ``keys/...``: every file of the key dir (vault keys sealed under the vault keyring, the
  signing key, ``keyring.json``, ``backup.json``), never a ``*.old`` leftover.
- ``heads/heads.log``: the heads file (wherever it lives), ``ledger/head.json`` the head just
  signed.
- ``config/appliance.toml``: the configuration file when its path is known, and
  ``config/settings.json`` (the loaded settings) always.

Footage is not in it: segments are ephemeral by law and stay on their own disk.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance import __version__
from appliance.backup.archive import write_archive
from appliance.backup.backup_key import backup_public_key
from appliance.backup.schema import current_revision
from appliance.backup.snapshot import dump_database
from appliance.clock import from_ms
from appliance.errors import ValidationFailed
from appliance.keys import destroy_secret_file, ensure_private_dir, load_signing_key
from appliance.ledger.events import EventType
from appliance.settings import CONFIG_ENV

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = [
    "ARCHIVE_PATTERN",
    "BackupResult",
    "archive_name",
    "archive_time_ms",
    "list_archives",
    "prune_archives",
    "take_backup",
]

log = logging.getLogger(__name__)

ARCHIVE_PATTERN = re.compile(r"^appliance-backup-(\d{8}T\d{6})(\d{3})Z\.cctvbak$")


def archive_name(now_ms: int) -> str:
    """``appliance-backup-<UTC time to the ms>.cctvbak``: names sort by time."""
    stamp = from_ms(now_ms).strftime("%Y%m%dT%H%M%S")
    return f"appliance-backup-{stamp}{now_ms % 1000:03d}Z.cctvbak"


def archive_time_ms(path: Path) -> int:
    """When the archive at ``path`` was taken, from its name."""
    match = ARCHIVE_PATTERN.match(path.name)
    if match is None:
        raise ValueError(f"{path.name} is not an archive name")
    when = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return int(when.timestamp()) * 1000 + int(match.group(2))


@dataclass(frozen=True)
class BackupResult:
    """What one backup wrote and pruned."""

    path: Path
    digest: str
    size_bytes: int
    head_seq: int
    schema: str | None
    pruned: list[Path]


def heads_file(ctx: AppContext) -> Path:
    return ctx.settings.ledger.heads_file or ctx.settings.storage.key_dir / "heads.log"


def _key_files(key_dir: Path, skip: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(key_dir.rglob("*")):
        if not path.is_file() or path.name.endswith(".old") or path.resolve() == skip.resolve():
            continue
        yield path.relative_to(key_dir).as_posix(), path


def _config_text(config_path: Path | None) -> bytes | None:
    path = config_path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if path is None or not path.is_file():
        return None
    return path.read_bytes()


def take_backup(
    ctx: AppContext,
    out_dir: Path,
    *,
    keep: int | None = None,
    config_path: Path | None = None,
    actor: str = "backup",
) -> BackupResult:
    """Write one archive into ``out_dir`` and keep the newest ``keep`` there.

    Needs the signing key (an unlocked vault in this process, or keys in clear) and a backup
    passphrase set (``backup.json``); VaultLocked / NotFound otherwise, before anything is
    written.
    """
    settings = ctx.settings
    key_dir = settings.storage.key_dir
    signing_key = load_signing_key(key_dir)
    backup_key = backup_public_key(key_dir)
    if out_dir.resolve().is_relative_to(settings.storage.data_dir.resolve()):
        raise ValidationFailed("backups must not go into the data dir (it is what they replace)")
    ensure_private_dir(out_dir)
    head = ctx.ledger.sign_head()  # the archive carries a head signed now
    now = ctx.clock.now_ms()
    schema = current_revision(ctx.db.engine)
    database = dump_database(settings, now)
    sqlite = ctx.db.is_sqlite
    hf = heads_file(ctx)
    keys = list(_key_files(key_dir, hf))
    manifest: dict[str, Any] = {
        "created_ms": now,
        "version": __version__,
        "schema": schema,
        "database": "sqlite" if sqlite else "postgresql",
        "head": head.to_dict(),
        "key_files": [name for name, _ in keys],
        "site": settings.site.name,
    }
    config = _config_text(config_path)

    def members() -> Iterator[tuple[str, bytes]]:
        yield "manifest.json", json.dumps(manifest, ensure_ascii=False).encode()
        yield ("database/appliance.db" if sqlite else "database/appliance.pgdump"), database
        for name, path in keys:
            yield f"keys/{name}", path.read_bytes()
        yield "heads/heads.log", hf.read_bytes() if hf.exists() else b""
        yield "ledger/head.json", head.to_json().encode()
        if config is not None:
            yield "config/appliance.toml", config
        yield "config/settings.json", settings.model_dump_json().encode()

    path = out_dir / archive_name(now)
    header = {
        "created_ms": now,
        "version": __version__,
        "schema": schema,
        "database": manifest["database"],
        "site": settings.site.name,
        "head": {"seq": head.seq, "hash_hex": head.hash_hex, "signed_ms": head.signed_ms},
        "backup_key": backup_key,
    }
    digest = write_archive(
        path, header, bytes.fromhex(backup_key["public_hex"]), signing_key, members()
    )
    size = path.stat().st_size
    ctx.ledger.append(
        EventType.backup_taken,
        actor=actor,
        data={
            "file": path.name,
            "blake2b": digest,
            "size_bytes": size,
            "head_seq": head.seq,
            "schema": schema,
            "database": manifest["database"],
        },
    )
    pruned = prune_archives(out_dir, keep) if keep is not None else []
    return BackupResult(path, digest, size, head.seq, schema, pruned)


def list_archives(directory: Path) -> list[Path]:
    """The archives in ``directory``, oldest first (their names sort by time)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if ARCHIVE_PATTERN.match(p.name))


def prune_archives(directory: Path, keep: int) -> list[Path]:
    """Overwrite and delete all but the newest ``keep`` archives; return the deleted paths.

    An archive holds sealed keys of footage deleted since it was taken: pruning is what ends
    a backup's reach (design/backup.md).
    """
    archives = list_archives(directory)
    gone = archives[: max(0, len(archives) - keep)]
    for path in gone:
        destroy_secret_file(path)
    return gone
