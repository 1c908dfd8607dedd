"""Reconcile at start: bring segment files and rows back in line after a crash (invariant 3).

The durability order of ``recorder.segments`` leaves at most a temp file, or a complete file with
its pending row; this finds both, and rows whose file is missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete
from sqlmodel import col, select

from appliance.clock import Clock
from appliance.db import Database
from appliance.media.format import file_digest, inspect_segment_file
from appliance.media.layout import SEGMENT_SUFFIX, TEMP_SUFFIX, fsync_dir
from appliance.models.media import PendingSegment, Segment
from recorder.indexer import OnIndexed, insert_segment, segment_row

__all__ = ["ReconcileReport", "reconcile"]

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    """What a start-up reconcile found and did (paths relative to the segments dir)."""

    temp_deleted: list[str] = field(default_factory=list)
    reindexed: list[str] = field(default_factory=list)
    orphans_deleted: list[str] = field(default_factory=list)
    pending_dropped: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.temp_deleted
            or self.reindexed
            or self.orphans_deleted
            or self.pending_dropped
            or self.missing_files
        )


def reconcile(
    db: Database,
    segments_dir: Path,
    clock: Clock,
    *,
    on_indexed: OnIndexed | None = None,
    cameras: Iterable[str] | None = None,
) -> ReconcileReport:
    """Bring files and rows back in line after a crash (invariant 3). Needs no private key.

    Temp files are deleted; a complete file without a row is indexed if its pending row (the
    sealed key) exists, else deleted (it could never be read); pending rows without a file are
    dropped; rows whose file is missing are reported, never deleted here. With ``cameras``,
    only those cameras' files and rows are looked at (a recorder reconciles what it records:
    another node may be writing the others).
    """
    report = ReconcileReport()
    only = None if cameras is None else set(cameras)
    with db.session() as session:
        pending = {
            p.path: p
            for p in session.exec(select(PendingSegment)).all()
            if only is None or p.camera_id in only
        }
    if segments_dir.is_dir():
        for camera_dir in sorted(p for p in segments_dir.iterdir() if p.is_dir()):
            if only is not None and camera_dir.name not in only:
                continue
            _reconcile_camera(db, segments_dir, camera_dir, clock, pending, report, on_indexed)
    for path in sorted(pending):
        if path not in report.reindexed:
            with db.session() as session:
                session.execute(delete(PendingSegment).where(col(PendingSegment.path) == path))
            report.pending_dropped.append(path)
    for name, paths in vars(report).items():
        if paths:
            log.warning("reconcile: %s: %s", name, ", ".join(paths))
    return report


def _reconcile_camera(
    db: Database,
    segments_dir: Path,
    camera_dir: Path,
    clock: Clock,
    pending: dict[str, PendingSegment],
    report: ReconcileReport,
    on_indexed: OnIndexed | None,
) -> None:
    with db.session() as session:
        rows = set(
            session.exec(
                select(Segment.path).where(
                    col(Segment.camera_id) == camera_dir.name,
                    col(Segment.sealed_key).is_not(None),
                    # A copy dropped after upload lives in the object store (issue 19); a
                    # file still here for such a row is an extra copy, deleted as an orphan.
                    col(Segment.local_copy),
                )
            ).all()
        )
    seen: set[str] = set()
    for root, _dirs, files in os.walk(camera_dir):
        for name in files:
            path = Path(root) / name
            rel = path.relative_to(segments_dir).as_posix()
            if name.endswith(TEMP_SUFFIX):
                path.unlink()
                fsync_dir(path.parent)
                report.temp_deleted.append(rel)
            elif name.endswith(SEGMENT_SUFFIX):
                seen.add(rel)
                if rel not in rows and not _reindex(db, path, rel, clock, pending, on_indexed):
                    path.unlink()
                    fsync_dir(path.parent)
                    report.orphans_deleted.append(rel)
                elif rel not in rows:
                    report.reindexed.append(rel)
    report.missing_files.extend(sorted(rows - seen))


def _reindex(
    db: Database,
    path: Path,
    rel: str,
    clock: Clock,
    pending: dict[str, PendingSegment],
    on_indexed: OnIndexed | None,
) -> bool:
    holder = pending.get(rel)
    summary = inspect_segment_file(path)
    if holder is None or summary is None:
        return False
    segment = segment_row(
        summary,
        relpath=rel,
        run_id=holder.run_id,
        size_bytes=path.stat().st_size,
        digest=file_digest(path),
        vault_key_id=holder.vault_key_id,
        sealed_key=holder.sealed_key,
        created_ms=clock.now_ms(),
    )
    with db.session() as session:
        insert_segment(session, segment, on_indexed)
    return True
