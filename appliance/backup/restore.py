"""``appliance restore``: a backup archive onto a fresh box (design/backup.md, "Restore").

Checks first, writes nothing until all pass: the archive's signature (against a pinned key
fingerprint when given, else the key named in the archive, printed for the operator to compare
with the one written down at installation), the backup passphrase (its derived public key must
be the archive's), a signing key in the archive equal to the signer, and a fresh box: an empty
key dir and an empty (or absent) database. Then: the key dir, the heads file, the config (kept
if one is already at the path), the database; the schema is upgraded if the code is newer; the
vault is unlocked with the vault passphrase when given; the replay destroys again everything
destroyed since the backup (``replay``); a ``backup_restored`` entry records it all, and a head
is signed so that ``appliance ledger verify`` passes at once.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from appliance.backup.archive import (
    ArchiveDamaged,
    open_payload,
    read_header,
    verify_signature,
)
from appliance.backup.backup_key import derive_backup_key
from appliance.backup.replay import (
    OpenableRange,
    ReplayReport,
    openable_footage,
    replay_destruction,
)
from appliance.backup.snapshot import database_is_empty, load_database
from appliance.backup.upgrade import upgrade_database
from appliance.clock import Clock, SystemClock
from appliance.context import AppContext
from appliance.errors import Conflict, ValidationFailed
from appliance.keys import ensure_private_dir, write_secret_file
from appliance.ledger.events import EventType
from appliance.ledger.heads import fingerprint_text
from appliance.ledger.verification import check_fingerprint
from appliance.settings import Settings, load_settings

__all__ = ["RestoreReport", "check_archive", "restore_backup"]


@dataclass
class RestoreReport:
    """What a restore did and what the box can open now."""

    archive: Path
    taken_ms: int
    signer_fingerprint: str
    schema_in_archive: str | None
    schema_now: str | None
    backup_tip_seq: int
    config_written: bool
    later_heads: int  # heads in a surviving heads file signed after the backup
    replay: ReplayReport
    openable: list[OpenableRange] = field(default_factory=list)
    head_signed: bool = False


def check_archive(archive: Path, pinned_fingerprint: str | None) -> tuple[dict[str, object], str]:
    """The header of a genuine archive and its signer's fingerprint; ArchiveDamaged if the
    signature fails, or the signer is not the pinned key."""
    header = read_header(archive)
    verify_key = header.verify_key
    if pinned_fingerprint and not check_fingerprint(verify_key, pinned_fingerprint):
        raise ArchiveDamaged(
            f"{archive} is signed by key {fingerprint_text(verify_key)}, not the pinned one"
        )
    verify_signature(archive, verify_key)
    return header.data, fingerprint_text(verify_key)


def _read_members(archive: Path, passphrase: str) -> tuple[dict[str, bytes], bytes]:
    header = read_header(archive)
    private = derive_backup_key(passphrase, header.backup_key)
    members: dict[str, bytes] = {}
    with open_payload(archive, header, private) as tar:
        for member in tar:
            if not member.isfile() or member.name.startswith("/") or ".." in member.name:
                raise ArchiveDamaged(f"{archive}: unexpected member {member.name!r}")
            extracted = tar.extractfile(member)
            assert extracted is not None
            members[member.name] = extracted.read()
    return members, header.verify_key


def _fresh_key_dir(key_dir: Path) -> None:
    if key_dir.exists() and any(p.is_file() for p in key_dir.rglob("*")):
        raise Conflict(
            f"the key dir {key_dir} is not empty: a restore never overwrites keys (restore onto "
            "a fresh box, or move the old key dir away)"
        )


def _settings(config_path: Path, members: dict[str, bytes]) -> tuple[Settings, bytes | None]:
    """The settings to restore under, and the archived configuration file to write at
    ``config_path`` (None when one is there already); nothing is written here."""
    if config_path.exists():
        return load_settings(config_path), None
    text = members.get("config/appliance.toml")
    if text is None:
        raise ValidationFailed(
            f"{config_path} does not exist and the archive holds no configuration file: write "
            "the configuration first (the archive's settings are in config/settings.json)"
        )
    try:
        return Settings(**tomllib.loads(text.decode("utf-8"))), text
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"the archived configuration does not load: {exc}") from exc


def _write_config(config_path: Path, text: bytes) -> None:
    config_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def _write_keys(key_dir: Path, members: dict[str, bytes]) -> None:
    ensure_private_dir(key_dir)
    for name, data in sorted(members.items()):
        if not name.startswith("keys/"):
            continue
        target = key_dir / name.removeprefix("keys/")
        for parent in reversed(target.relative_to(key_dir).parents[:-1]):
            ensure_private_dir(key_dir / parent)
        write_secret_file(target, data)


def _heads_file(settings: Settings, members: dict[str, bytes]) -> int:
    """Put the archive's heads file in place; return how many heads a surviving file holds
    beyond it (kept as it is: it is the evidence of what the lost database held)."""
    path = settings.ledger.heads_file or settings.storage.key_dir / "heads.log"
    archived = members.get("heads/heads.log", b"")
    if not path.exists() or path.stat().st_size == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(archived)
        path.chmod(0o600)
        return 0
    known = set(archived.splitlines())
    return sum(1 for line in path.read_bytes().splitlines() if line and line not in known)


def restore_backup(
    archive: Path,
    config_path: Path,
    passphrase: str,
    *,
    pinned_fingerprint: str | None = None,
    vault_passphrase: str | None = None,
    clock: Clock | None = None,
    actor: str = "restore",
) -> RestoreReport:
    """Restore ``archive`` onto a fresh box configured (or to be configured) at
    ``config_path``; see the module doc."""
    clock = clock or SystemClock()
    header, signer = check_archive(archive, pinned_fingerprint)
    members, verify_key = _read_members(archive, passphrase)
    if members.get("keys/signing/ed25519.pub", b"").strip() != verify_key.hex().encode():
        raise ArchiveDamaged("the archive's signing key is not the key that signed it")
    manifest = json.loads(members["manifest.json"])
    database = members.get("database/appliance.db") or members.get("database/appliance.pgdump")
    if database is None:
        raise ArchiveDamaged(f"{archive} holds no database")
    settings, config_text = _settings(config_path, members)
    if ("sqlite" if settings.database_url.startswith("sqlite") else "postgresql") != manifest[
        "database"
    ]:
        raise ValidationFailed(
            f"the archive holds a {manifest['database']} database; the configuration names "
            "another kind"
        )
    _fresh_key_dir(settings.storage.key_dir)
    if not database_is_empty(settings):
        raise Conflict("the database is not empty: a restore goes onto a fresh box")
    if config_text is not None:
        _write_config(config_path, config_text)
    for path in (settings.storage.data_dir, settings.segments_dir, settings.exports_dir):
        ensure_private_dir(path)
    _write_keys(settings.storage.key_dir, members)
    later_heads = _heads_file(settings, members)
    load_database(settings, database)
    state = upgrade_database(settings, clock, actor=actor)
    ctx = AppContext.open(settings, clock)
    try:
        if vault_passphrase and ctx.vault.has_passphrase:
            ctx.vault_keeper.unlock(vault_passphrase, actor)
        replay = replay_destruction(ctx, actor)
        openable = openable_footage(ctx)
        ctx.ledger.append(
            EventType.backup_restored,
            actor=actor,
            data={
                "archive": archive.name,
                "taken_ms": int(header["created_ms"]),  # type: ignore[call-overload]
                "backup_tip_seq": int(manifest["head"]["seq"]),
                "schema": state.database,
                "later_heads": later_heads,
                "footage_expired": replay.expired_segments,
                "footage_missing": replay.missing_segments,
                "unreadable_files_removed": replay.unreadable_files,
                "keys_destroyed": list(replay.keys_destroyed),
                "openable_ranges": len(openable),
            },
        )
        signed = False
        if ctx.vault.is_unlocked or not ctx.vault.has_passphrase:
            ctx.ledger.sign_head()
            signed = True
    finally:
        ctx.close()
    return RestoreReport(
        archive=archive,
        taken_ms=int(header["created_ms"]),  # type: ignore[call-overload]
        signer_fingerprint=signer,
        schema_in_archive=manifest.get("schema"),
        schema_now=state.database,
        backup_tip_seq=int(manifest["head"]["seq"]),
        config_written=config_text is not None,
        later_heads=later_heads,
        replay=replay,
        openable=openable,
        head_signed=signed,
    )
