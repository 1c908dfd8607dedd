"""Synthetic segments for vault and retention tests: random ciphertext-like files written where
the row says, with a real per-segment key sealed to the real vault public key."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from nacl.public import PublicKey, SealedBox
from sqlalchemy import func, insert, select
from sqlmodel import Session

from appliance.context import AppContext
from appliance.retention._tables import PURGE_JOB, SEGMENT

__all__ = [
    "DAY_MS",
    "MINUTE_MS",
    "Made",
    "assert_consistent",
    "files_on_disk",
    "make_segments",
    "relpath",
    "segment_count",
]

DAY_MS = 86_400_000
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Made:
    id: int
    camera_id: str
    start_ms: int
    end_ms: int
    path: str
    segment_key: bytes


def relpath(camera_id: str, start_ms: int) -> str:
    """The recorder's layout (appliance.media.layout): camera/YYYY/MM/DD/<start>-<token>.seg."""
    day = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
    return f"{camera_id}/{day:%Y/%m/%d}/{start_ms}-{secrets.token_hex(4)}.seg"


def make_segments(
    ctx: AppContext,
    camera_id: str,
    starts_ms: Iterable[int],
    *,
    length_ms: int = MINUTE_MS,
    size_bytes: int = 256,
) -> list[Made]:
    """Write one file and one row per start; keys sealed to the vault's current key."""
    key_id, public = ctx.vault.current_public_key()
    box = SealedBox(PublicKey(public))
    made: list[Made] = []
    rows = []
    root = ctx.settings.segments_dir
    for start in starts_ms:
        path = relpath(camera_id, start)
        data = os.urandom(size_bytes)
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        segment_key = os.urandom(32)
        rows.append(
            {
                "camera_id": camera_id,
                "run_id": None,
                "start_ms": start,
                "end_ms": start + length_ms,
                "path": path,
                "size_bytes": size_bytes,
                "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                "vault_key_id": key_id,
                "sealed_key": box.encrypt(segment_key),
                "codec": "h264",
                "width": 1920,
                "height": 1080,
                "frames": 1500,
                "key_frames": 30,
                "has_audio": False,
                "created_ms": start + length_ms,
            }
        )
        made.append(Made(0, camera_id, start, start + length_ms, path, segment_key))
    with ctx.db.session() as session:
        session.execute(insert(SEGMENT), rows)
        ids = dict(
            session.execute(
                select(SEGMENT.c.path, SEGMENT.c.id).where(
                    SEGMENT.c.path.in_([m.path for m in made])
                )
            ).all()
        )
    return [replace(m, id=int(ids[m.path])) for m in made]


def segment_count(session: Session, camera_id: str | None = None) -> int:
    query = select(func.count()).select_from(SEGMENT)
    if camera_id is not None:
        query = query.where(SEGMENT.c.camera_id == camera_id)
    return int(session.execute(query).scalar_one())


def files_on_disk(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def assert_consistent(ctx: AppContext) -> None:
    """Invariant 4 after a purge (or a crash and recovery): no key without its file, no file
    without its key, no purge left half done."""
    root = ctx.settings.segments_dir
    with ctx.db.session() as session:
        rows = session.execute(select(SEGMENT.c.path, SEGMENT.c.sealed_key)).all()
        jobs = session.execute(select(func.count()).select_from(PURGE_JOB)).scalar_one()
    keyed = {path for path, key in rows if key is not None}
    keyless = [path for path, key in rows if key is None]
    files = files_on_disk(root)
    assert not keyless, f"rows whose key is destroyed but which remain: {keyless[:3]}"
    assert keyed <= files, f"keys without a file: {sorted(keyed - files)[:3]}"
    assert files <= keyed, f"files without a key: {sorted(files - keyed)[:3]}"
    assert jobs == 0, "a purge batch was left unfinished"
