"""fsck of the object store: objects against the ``segment`` rows that name them (issue 19).

Lists the objects under ``storage.object_prefix`` and the rows with an ``object_key``, both in
byte-wise key order, and merges them (flat memory, like the file walk of ``fsck``):

- ``orphan_object``: an object no row names (an upload whose row update a crash lost, or a
  purge that could not delete it). Its key is nowhere, so it is unreadable. Repair: deleted;
  the uploader puts a segment again if its row still wants it.
- ``missing_object``: a row naming an object the store does not have. Repair: with this
  node's local file, the key is cleared (the uploader puts it again); without it, the segment
  is gone everywhere: the row is removed with a destruction record ("index row removed") and a
  ledger entry, as for a missing file.
- ``object_size_mismatch``: the object's size differs from the row's. Reported only (the
  ciphertext changed; playback refuses it by its digest).

Objects are compared by size, not hashed: hashing would download the whole store; a changed
object is refused at playback by its digest (invariant 3 of design/storage.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlalchemy import text, update
from sqlmodel import Session, col

from appliance.models import Segment
from appliance.retention.fsck_report import FsckReport, Problem, ProblemKind
from appliance.storage import ObjectInfo, SegmentFiles

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["check_objects", "repair_objects"]

_ROWS = "SELECT id, object_key, size_bytes FROM segment WHERE object_key IS NOT NULL ORDER BY "
_ROWS_SQLITE = text(_ROWS + "object_key")
_ROWS_PG = text(_ROWS + 'object_key COLLATE "C"')


def _rows(session: Session) -> Iterator[tuple[int, str, int]]:
    postgres = session.get_bind().dialect.name == "postgresql"
    result = (
        session.connection()
        .execution_options(stream_results=True, yield_per=5000)
        .execute(_ROWS_PG if postgres else _ROWS_SQLITE)
    )
    for row in result:
        yield int(row[0]), str(row[1]), int(row[2])


def check_objects(ctx: AppContext, report: FsckReport) -> None:
    """Add the object store's problems to ``report`` (nothing without an object store)."""
    files = ctx.segment_files
    if files.store is None:
        return
    objects: Iterator[ObjectInfo] = files.store.list(files.prefix)
    with ctx.db.session() as session:
        rows = _rows(session)
        obj, row = next(objects, None), next(rows, None)
        while obj is not None or row is not None:
            if row is None or (obj is not None and obj.key < row[1]):
                assert obj is not None
                report.objects += 1
                report.problems.append(Problem(ProblemKind.orphan_object, obj.key))
                obj = next(objects, None)
            elif obj is None or row[1] < obj.key:
                report.problems.append(Problem(ProblemKind.missing_object, row[1], row[0]))
                row = next(rows, None)
            else:
                report.objects += 1
                if obj.size_bytes != row[2]:
                    report.problems.append(
                        Problem(
                            ProblemKind.object_size_mismatch,
                            obj.key,
                            row[0],
                            f"{obj.size_bytes} bytes, indexed {row[2]}",
                        )
                    )
                obj, row = next(objects, None), next(rows, None)


def repair_objects(ctx: AppContext, problems: list[Problem]) -> tuple[int, list[Problem]]:
    """Delete orphan objects, clear the keys of objects that can be uploaded again; returns
    how many were repaired and the missing objects whose segment is gone everywhere (for the
    caller's destruction records; the caller records the repair)."""
    files: SegmentFiles = ctx.segment_files
    repaired = 0
    gone: list[Problem] = []
    for problem in problems:
        if problem.kind is ProblemKind.orphan_object and files.store is not None:
            files.store.delete(problem.path)
            if files.cache is not None:
                files.cache.discard(problem.path)
            repaired += 1
        elif problem.kind is ProblemKind.missing_object:
            with ctx.db.session() as session:
                segment = session.get(Segment, problem.segment_id)
                if segment is None:
                    continue
                if files.local_path(segment).exists():
                    session.execute(
                        update(Segment)
                        .where(col(Segment.id) == segment.id)
                        .values(object_key=None, uploaded_ms=None, local_copy=True)
                    )
                    repaired += 1
                else:
                    gone.append(Problem(ProblemKind.missing_file, segment.path, segment.id))
    return repaired, gone
