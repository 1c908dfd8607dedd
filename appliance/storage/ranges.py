"""``RangeReader``: a window ``[start, end)`` of a seekable binary file, as a byte stream."""

from __future__ import annotations

from typing import BinaryIO

__all__ = ["RangeReader"]


class RangeReader:
    """Reads bytes ``start`` to ``end`` (exclusive; None: to the end) of ``handle``, which it
    owns and closes."""

    def __init__(self, handle: BinaryIO, start: int, end: int | None) -> None:
        self._handle = handle
        handle.seek(start)
        self._left = None if end is None else max(0, end - start)

    def read(self, size: int = -1, /) -> bytes:
        if self._left is not None:
            size = self._left if size < 0 else min(size, self._left)
        data = self._handle.read(size)
        if self._left is not None:
            self._left -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()
