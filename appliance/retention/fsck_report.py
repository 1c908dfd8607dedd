"""What ``appliance fsck`` finds: the problem kinds, a problem, the report.

Its own module so that the file check (``fsck``) and the object-store check
(``fsck_objects``) share them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["FsckReport", "Problem", "ProblemKind"]


class ProblemKind(StrEnum):
    hash_mismatch = "hash_mismatch"
    size_mismatch = "size_mismatch"
    missing_file = "missing_file"
    orphan_file = "orphan_file"
    temp_file = "temp_file"
    shredded = "shredded"
    key_missing = "key_missing"
    orphan_export = "orphan_export"
    export_missing = "export_missing"
    export_not_destroyed = "export_not_destroyed"
    orphan_object = "orphan_object"
    missing_object = "missing_object"
    object_size_mismatch = "object_size_mismatch"


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    path: str  # relative to the segments dir ("" for a key)
    segment_id: int | None = None
    detail: str = ""


@dataclass
class FsckReport:
    rows: int = 0
    files: int = 0
    objects: int = 0
    hashed_bytes: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: int = 0

    def count(self, kind: ProblemKind) -> int:
        return sum(1 for p in self.problems if p.kind is kind)

    @property
    def clean(self) -> bool:
        return not self.problems
