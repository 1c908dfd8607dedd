"""Where segment files live, and the directory fsync that makes a rename durable.

``<segments_dir>/<camera_id>/<YYYY>/<MM>/<DD>/<start_ms>-<token>.seg`` (date in UTC); a segment
being written is ``.<name>.tmp`` in the same directory, so the rename never crosses a file system.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "SEGMENT_SUFFIX",
    "TEMP_SUFFIX",
    "ensure_dir",
    "fsync_dir",
    "segment_relpath",
    "temp_path_for",
]

SEGMENT_SUFFIX = ".seg"
TEMP_SUFFIX = ".tmp"


def segment_relpath(camera_id: str, start_ms: int, token: str) -> str:
    """The path of a segment relative to the segments dir (what ``Segment.path`` holds)."""
    day = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
    return f"{camera_id}/{day:%Y/%m/%d}/{start_ms}-{token}{SEGMENT_SUFFIX}"


def temp_path_for(final: Path) -> Path:
    """The temporary name of a segment while it is written (hidden, same directory)."""
    return final.with_name(f".{final.name}{TEMP_SUFFIX}")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path, root: Path) -> None:
    """Create ``path`` (below ``root``), mode 0700, fsyncing each parent that gained an entry."""
    if path.is_dir():
        return
    missing: list[Path] = []
    current = path
    while not current.is_dir() and current != root and root in current.parents:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue
        fsync_dir(directory.parent)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
