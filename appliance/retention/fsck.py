"""``appliance fsck``: segment files against segment rows, hashes, orphans, leftovers.

Walks the segments dir and the ``segment`` table in the same (byte-wise) path order and merges
them, so memory stays flat at any size. Repairs (``repair=True``) are only safe while the
recorder is stopped: a temp file or a just-renamed, not yet indexed file is a live write.

Findings and repairs:

- ``hash_mismatch`` / ``size_mismatch``: the ciphertext changed. Reported (and alarmed);
  nothing can repair ciphertext, and the row stays so playback reports the damage.
- ``missing_file``: a row without its file. Repair: the row is removed, with a destruction
  record (method "index row removed") and a ledger entry.
- ``orphan_file``: a file without a row (its key is not known, so it is unreadable).
  Repair: unlinked.
- ``temp_file``: an unfinished write (``.<name>.tmp``). Repair: unlinked.
- ``shredded``: a row whose key is already destroyed (a purge in progress or interrupted).
  Repair: the purge is finished (journaled batches first, then strays).
- ``key_missing``: rows sealed to a vault key whose private key file is gone. Reported.

With an object store (issue 19), a row whose local file was dropped (or is on another node)
and whose object exists is not a missing file; the objects themselves are checked by
``appliance.retention.fsck_objects`` (``orphan_object``, ``missing_object``,
``object_size_mismatch``).

Export packages (``check_exports``, ``repair_exports``; paths ``exports/<file>``):

- ``orphan_export``: a file in the exports dir without a live row (never recorded, or an
  unfinished write). Repair: overwritten and unlinked.
- ``export_missing``: a live ``request_export`` row whose file is gone. Repair: the
  destruction is finished (the vault's copy of the key nulled, a destruction record with
  reason "file missing", an ``export_destroyed`` entry).
- ``export_not_destroyed``: a destroyed row whose file still exists (a crash between the
  commit and the unlink). Repair: overwritten and unlinked.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from appliance.alarms import AlarmKind, clear_alarm, raise_alarm
from appliance.errors import MediaError
from appliance.export.retention import destroy_export
from appliance.export.shred import shred_file
from appliance.media.format import hash_file
from appliance.models import DestructionRecord, RequestExport, Segment
from appliance.retention._tables import SEGMENT
from appliance.retention.destruction import Method, Reason, purge_event_data
from appliance.retention.fsck_objects import check_objects, repair_objects
from appliance.retention.fsck_report import FsckReport, Problem, ProblemKind
from appliance.retention.purge import Purger, fsync_dir
from appliance.vault.events import record_event

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = [
    "FsckReport",
    "Problem",
    "ProblemKind",
    "check_exports",
    "fsck",
    "repair_exports",
    "walk_sorted",
]


def walk_sorted(root: Path, prefix: str = "") -> Iterator[str]:
    """Relative paths of the files under ``root`` in byte-wise order of the whole path string.

    Sorting each directory by ``name + "/"`` for subdirectories and ``name`` for files makes
    the depth-first walk come out in the same order as ``ORDER BY path`` in binary collation.
    """
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return
    keyed = sorted(
        ((e.name + "/" if e.is_dir(follow_symlinks=False) else e.name), e) for e in entries
    )
    for key, entry in keyed:
        if key.endswith("/"):
            yield from walk_sorted(Path(entry.path), f"{prefix}{entry.name}/")
        else:
            yield f"{prefix}{entry.name}"


_ROWS = (
    "SELECT id, path, size_bytes, digest, sealed_key IS NOT NULL, object_key IS NOT NULL "
    "FROM segment ORDER BY "
)
_ROWS_SQLITE = text(_ROWS + "path")
_ROWS_PG = text(_ROWS + 'path COLLATE "C"')


def _rows(session: Session) -> Iterator[tuple[int, str, int, str, bool, bool]]:
    # Byte-wise order on both databases (PostgreSQL's default collation is not).
    postgres = session.get_bind().dialect.name == "postgresql"
    result = (
        session.connection()
        .execution_options(stream_results=True, yield_per=5000)
        .execute(_ROWS_PG if postgres else _ROWS_SQLITE)
    )
    for row in result:
        yield int(row[0]), str(row[1]), int(row[2]), str(row[3]), bool(row[4]), bool(row[5])


def fsck(
    ctx: AppContext, *, repair: bool = False, verify_hash: bool = True, actor: str = "fsck"
) -> FsckReport:
    """Check (and with ``repair`` fix) segment files against rows; see the module doc."""
    root = ctx.settings.segments_dir
    report = FsckReport()
    missing: list[Problem] = []
    with ctx.db.session() as session:
        files = walk_sorted(root)
        rows = _rows(session)
        file = next(files, None)
        row = next(rows, None)
        while file is not None or row is not None:
            if row is None or (file is not None and file < row[1]):
                assert file is not None
                report.files += 1
                name = file.rsplit("/", 1)[-1]
                kind = ProblemKind.temp_file if name.endswith(".tmp") else ProblemKind.orphan_file
                report.problems.append(Problem(kind, file))
                file = next(files, None)
            elif file is None or row[1] < file:
                report.rows += 1
                if not row[5]:  # no object either (else: dropped here, or another node's)
                    problem = Problem(ProblemKind.missing_file, row[1], row[0])
                    report.problems.append(problem)
                    missing.append(problem)
                row = next(rows, None)
            else:
                report.files += 1
                report.rows += 1
                _check_pair(root, row, report, verify_hash)
                file, row = next(files, None), next(rows, None)
        _check_keys(ctx, session, report)
    check_objects(ctx, report)
    exports = check_exports(ctx)
    report.problems.extend(exports)
    if repair:
        report.repaired += repair_exports(ctx, exports, actor)
        fixed, gone = repair_objects(ctx, report.problems)
        report.repaired += fixed
        missing.extend(gone)
        _repair(ctx, report, missing, actor)
    with ctx.db.session() as session:
        now = ctx.clock.now_ms()
        damaged = [p for p in report.problems if p.kind not in _REPAIRABLE or not repair]
        if damaged:
            raise_alarm(
                session,
                AlarmKind.integrity,
                f"fsck: {len(damaged)} problem(s), first: {damaged[0].kind} {damaged[0].path}",
                now,
            )
        else:
            clear_alarm(session, AlarmKind.integrity, now)
    return report


_REPAIRABLE = {
    ProblemKind.missing_file,
    ProblemKind.orphan_file,
    ProblemKind.temp_file,
    ProblemKind.shredded,
    ProblemKind.orphan_export,
    ProblemKind.export_missing,
    ProblemKind.export_not_destroyed,
    ProblemKind.orphan_object,
    ProblemKind.missing_object,
}


def _check_pair(
    root: Path, row: tuple[int, str, int, str, bool, bool], report: FsckReport, verify_hash: bool
) -> None:
    segment_id, relative, size_bytes, digest, has_key, _in_store = row
    if not has_key:
        report.problems.append(
            Problem(ProblemKind.shredded, relative, segment_id, "key destroyed, file remains")
        )
        return
    path = root / relative
    actual: str | None = None  # the hash, when verified
    if verify_hash:
        try:
            actual, actual_size = hash_file(path, digest.partition(":")[0])
        except MediaError:  # an algorithm this version does not know: the row is wrong
            actual, actual_size = "", path.stat().st_size
        report.hashed_bytes += actual_size
    else:
        actual_size = path.stat().st_size
    if actual_size != size_bytes:
        report.problems.append(
            Problem(
                ProblemKind.size_mismatch,
                relative,
                segment_id,
                f"{actual_size} bytes, indexed {size_bytes}",
            )
        )
    elif actual is not None and actual != digest:
        report.problems.append(
            Problem(ProblemKind.hash_mismatch, relative, segment_id, "ciphertext changed")
        )


def _check_keys(ctx: AppContext, session: Session, report: FsckReport) -> None:
    vault = ctx.vault
    for key_id, count in session.exec(
        select(Segment.vault_key_id, func.count())
        .where(col(Segment.sealed_key).is_not(None))
        .group_by(col(Segment.vault_key_id))
    ).all():
        if not vault.has_private_key(key_id):
            report.problems.append(
                Problem(
                    ProblemKind.key_missing,
                    "",
                    None,
                    f"{count} segment(s) sealed to vault key {key_id}, whose private key is gone",
                )
            )


def _repair(ctx: AppContext, report: FsckReport, missing: list[Problem], actor: str) -> None:
    root = ctx.settings.segments_dir
    purger = Purger(ctx)
    purger.recover()
    dirs: set[Path] = set()
    for problem in report.problems:
        if problem.kind in (ProblemKind.orphan_file, ProblemKind.temp_file):
            path = root / problem.path
            path.unlink(missing_ok=True)
            dirs.add(path.parent)
            report.repaired += 1
    for directory in dirs:
        if directory.is_dir():
            fsync_dir(directory)
    shredded = [p.segment_id for p in report.problems if p.kind is ProblemKind.shredded]
    if shredded:
        _finish_strays(ctx, [i for i in shredded if i is not None], report)
    if missing:
        _remove_missing(ctx, missing, actor)
        report.repaired += len(missing)
    if shredded or missing:  # deleted rows, some with live keys: scrub the database files
        ctx.db.mark_remnants([SEGMENT.name])
        ctx.db.scrub_remnants()
    _prune_empty_dirs(root)
    with ctx.db.session() as session:
        record_event(
            ctx.ledger,
            session,
            "fsck_repair",
            actor=actor,
            data={
                "problems": [f"{p.kind} {p.path or p.detail}" for p in report.problems[:1000]],
                "repaired": report.repaired,
            },
        )


def _finish_strays(ctx: AppContext, segment_ids: list[int], report: FsckReport) -> None:
    """Rows whose key is gone but that no batch journals: unlink the file, drop the row."""
    root = ctx.settings.segments_dir
    with ctx.db.session() as session:
        for segment_id in segment_ids:
            segment = session.get(Segment, segment_id)
            if segment is None or segment.sealed_key is not None:
                continue
            (root / segment.path).unlink(missing_ok=True)
            files = ctx.segment_files
            if files.remote:
                files.destroy(segment.path, segment.object_key or files.key_for(segment.path))
            session.delete(segment)
            report.repaired += 1


def _remove_missing(ctx: AppContext, missing: list[Problem], actor: str) -> None:
    now = ctx.clock.now_ms()
    with ctx.db.session() as session:
        by_camera: dict[str, list[Segment]] = {}
        for problem in missing:
            segment = session.get(Segment, problem.segment_id)
            if segment is None or (ctx.settings.segments_dir / segment.path).exists():
                continue  # gone meanwhile, or the file came back
            by_camera.setdefault(segment.camera_id, []).append(segment)
        records = []
        for camera_id, segments in sorted(by_camera.items()):
            record = DestructionRecord(
                executed_ms=now,
                camera_id=camera_id,
                segment_count=len(segments),
                start_ms=min(s.start_ms for s in segments),
                end_ms=max(s.end_ms for s in segments),
                size_bytes=sum(s.size_bytes for s in segments),
                segments_digest=hashlib.blake2b(
                    "\n".join(
                        s.digest for s in sorted(segments, key=lambda s: s.start_ms)
                    ).encode(),
                    digest_size=32,
                ).hexdigest(),
                method=Method.index_removed.value,
                reason=Reason.file_missing.value,
                executed_by=actor,
                note="fsck: the file was missing; its key was destroyed with the row",
            )
            session.add(record)
            records.append(record)
            for segment in segments:
                session.delete(segment)
        session.flush()
        for record in records:
            record_event(
                ctx.ledger,
                session,
                "purge",
                actor=actor,
                camera_id=record.camera_id,
                data=purge_event_data(record),
            )


def _prune_empty_dirs(root: Path) -> None:
    """Remove empty directories below ``root`` (left by purges; the recorder is stopped)."""
    for directory, _subdirs, _files in os.walk(root, topdown=False):
        path = Path(directory)
        if path != root and not any(path.iterdir()):
            try:
                path.rmdir()
            except OSError:
                continue


_EXPORTS = "exports/"  # the prefix of an export problem's path


def check_exports(ctx: AppContext) -> list[Problem]:
    """Export package files against ``request_export`` rows (see the module doc)."""
    directory = ctx.settings.exports_dir
    try:
        files = {entry.name for entry in os.scandir(directory) if entry.is_file()}
    except FileNotFoundError:
        files = set()
    with ctx.db.session() as session:
        rows = session.exec(select(RequestExport.file, RequestExport.destroyed_ms)).all()
    problems: list[Problem] = []
    live: set[str] = set()
    for name, destroyed_ms in rows:
        if destroyed_ms is None:
            live.add(name)
            if name not in files:
                problems.append(Problem(ProblemKind.export_missing, _EXPORTS + name))
        elif name in files:
            problems.append(
                Problem(ProblemKind.export_not_destroyed, _EXPORTS + name, None, "destroyed")
            )
    destroyed = {name for name, destroyed_ms in rows if destroyed_ms is not None}
    for name in sorted(files - live - destroyed):
        problems.append(Problem(ProblemKind.orphan_export, _EXPORTS + name))
    return problems


def repair_exports(ctx: AppContext, problems: list[Problem], actor: str) -> int:
    """Finish what ``check_exports`` found (the appliance stopped); returns the count."""
    directory = ctx.settings.exports_dir
    repaired = 0
    for problem in problems:
        name = problem.path.removeprefix(_EXPORTS)
        if problem.kind in (ProblemKind.orphan_export, ProblemKind.export_not_destroyed):
            shred_file(directory / name)
            repaired += 1
        elif problem.kind is ProblemKind.export_missing:
            with ctx.db.session() as session:
                export_id = session.exec(
                    select(RequestExport.id).where(
                        RequestExport.file == name, col(RequestExport.destroyed_ms).is_(None)
                    )
                ).first()
            if export_id is None or (directory / name).exists():
                continue  # destroyed meanwhile, or the file came back
            destroy_export(
                ctx,
                export_id,
                method=Method.export_key_destroyed.value,
                reason=Reason.file_missing.value,
                actor=actor,
                note="fsck: the package file was missing",
            )
            repaired += 1
    return repaired
