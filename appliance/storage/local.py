"""``LocalDirStore``: a segment store that is a directory (the segments dir, or a mounted share).

Writes are atomic and durable the same way the recorder's are (invariant 3): a hidden temp
file in the final directory, fsync, rename, fsync of the directory.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from appliance.media.layout import ensure_dir, fsync_dir
from appliance.storage.base import ByteStream, ObjectInfo, ObjectMissing, StoreUnavailable
from appliance.storage.ranges import RangeReader

__all__ = ["LocalDirStore"]


class LocalDirStore:
    """Objects are files under ``root``; a key is a relative path with ``/`` separators."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"bad object key {key!r}")
        return self.root.joinpath(*parts)

    def prepare(self) -> None:
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"{self.root}: {exc}") from exc

    def put(self, key: str, source: Path, *, md5: bytes | None = None) -> None:
        final = self._path(key)
        if final == source:
            return  # the store is the directory the file was written in
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            ensure_dir(final.parent, self.root)
            temp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")
            digest = hashlib.md5(usedforsecurity=False)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                with source.open("rb") as src, os.fdopen(fd, "wb", closefd=False) as dst:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        dst.write(chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
            if md5 is not None and digest.digest() != md5:
                temp.unlink(missing_ok=True)
                raise StoreUnavailable(f"{key}: the copy differs from its source")
            temp.rename(final)
            fsync_dir(final.parent)
        except OSError as exc:
            raise StoreUnavailable(f"{key}: {exc}") from exc

    def open_range(
        self, key: str, start: int = 0, end: int | None = None, *, first_end: int | None = None
    ) -> ByteStream:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc
        except OSError as exc:
            raise StoreUnavailable(f"{key}: {exc}") from exc
        if start == 0 and end is None:
            return handle
        return RangeReader(handle, start, end)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"{key}: {exc}") from exc

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            return ObjectInfo(key, self._path(key).stat().st_size)
        except FileNotFoundError:
            return None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key in _walk(self.root, ""):
            if key.startswith(prefix) and not key.rsplit("/", 1)[-1].startswith("."):
                try:
                    size = self._path(key).stat().st_size
                except FileNotFoundError:
                    continue
                yield ObjectInfo(key, size)

    def copy_to(self, key: str, destination: BinaryIO) -> None:
        """Write the whole object into ``destination`` (for tools and tests)."""
        source = self.open_range(key)
        try:
            while chunk := source.read(1 << 20):
                destination.write(chunk)
        finally:
            source.close()


def _walk(root: Path, prefix: str) -> Iterator[str]:
    """Keys under ``root`` in byte-wise order (directories sort as ``name + "/"``)."""
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return
    keyed = sorted(
        ((e.name + "/" if e.is_dir(follow_symlinks=False) else e.name), e) for e in entries
    )
    for name, entry in keyed:
        if name.endswith("/"):
            yield from _walk(Path(entry.path), prefix + name)
        else:
            yield prefix + name
