"""``ReadCache``: a bounded local copy of objects read from the object store (LRU).

Playback of footage that lives only in the object store streams it from there; the bytes are
teed into a hidden temp file as the reader consumes them and kept (renamed into the cache) only
when the whole object arrived and its digest is the row's. So a second viewing of the same
minutes is local-disk fast, and a damaged or partial download is never kept. The cache holds
ciphertext only (what the store holds); the purge discards its entries with the objects, and
an entry whose row is gone can open nothing (its key is shredded) until the LRU drops it.
Total size is kept under ``max_bytes`` by dropping the least recently opened entries (access
order is kept in memory and rebuilt from file mtimes at start).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from appliance.media.format import digest_hasher
from appliance.storage.base import ByteStream

__all__ = ["ReadCache"]

log = logging.getLogger(__name__)


class ReadCache:
    """Objects by key under ``root`` (flat, the key percent-encoded), at most ``max_bytes``."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, int] = OrderedDict()  # key -> size, oldest first
        self.hits = 0
        self.misses = 0
        if max_bytes > 0:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            found: list[tuple[float, str, int]] = []
            for entry in os.scandir(root):
                if entry.name.startswith("."):  # a download a crash interrupted
                    Path(entry.path).unlink(missing_ok=True)
                    continue
                stat = entry.stat()
                found.append((stat.st_mtime, unquote(entry.name), stat.st_size))
            for _mtime, key, size in sorted(found):
                self._entries[key] = size
            self._evict()

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return sum(self._entries.values())

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._entries

    def _path(self, key: str) -> Path:
        return self.root / quote(key, safe="")

    def open(self, key: str, size: int, digest: str, fetch: Callable[[], ByteStream]) -> ByteStream:
        """The object ``key`` (``size`` bytes, ``digest`` as in ``segment.digest``): from the
        cache, or from ``fetch()`` while it is being cached."""
        if self.max_bytes > 0:
            with self._lock:
                cached = key in self._entries
                if cached:
                    self._entries.move_to_end(key)
            if cached:
                try:
                    handle = self._path(key).open("rb")
                except FileNotFoundError:
                    self.discard(key)
                else:
                    with contextlib.suppress(OSError):
                        os.utime(handle.fileno())
                    self.hits += 1
                    return handle
        self.misses += 1
        source = fetch()
        if self.max_bytes <= 0 or size > self.max_bytes:
            return source
        try:
            return _Tee(self, key, size, digest, source)
        except OSError:
            log.warning("read cache %s unusable; reading %s uncached", self.root, key)
            return source

    def cached_path(self, key: str) -> Path | None:
        """The cached copy's path (counted as a use, a hit), or None if there is none."""
        if self.max_bytes <= 0:
            return None
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
        path = self._path(key)
        with contextlib.suppress(OSError):
            os.utime(path)
        self.hits += 1
        return path

    def discard(self, key: str) -> None:
        """Drop the entry (the purge, or a damaged copy)."""
        with self._lock:
            self._entries.pop(key, None)
        self._path(key).unlink(missing_ok=True)

    def _admit(self, key: str, temp: Path, size: int) -> None:
        temp.rename(self._path(key))
        with self._lock:
            self._entries[key] = size
            self._entries.move_to_end(key)
        self._evict()

    def _evict(self) -> None:
        while True:
            with self._lock:
                if sum(self._entries.values()) <= self.max_bytes or not self._entries:
                    return
                key, _size = self._entries.popitem(last=False)
            self._path(key).unlink(missing_ok=True)


class _Tee:
    """Reads from the store and writes the same bytes to a temp file in the cache."""

    def __init__(
        self, cache: ReadCache, key: str, size: int, digest: str, source: ByteStream
    ) -> None:
        self._cache, self._key, self._size, self._source = cache, key, size, source
        self._algorithm, _, self._expected = digest.partition(":")
        self._hash: Any = digest_hasher(self._algorithm)
        self._temp = cache.root / f".{secrets.token_hex(8)}.part"
        self._file = self._temp.open("xb")
        self._written = 0
        self._failed = False

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        if not self._failed and data:
            try:
                self._file.write(data)
            except OSError:
                self._failed = True  # a full cache disk never fails the viewing
            self._hash.update(data)
            self._written += len(data)
        return data

    def close(self) -> None:
        if self._written == self._size and not self._failed:
            # The reader stopped at the end marker; anything the store still has is extra.
            rest = self._source.read(1)
            complete = not rest
        else:
            complete = False
        self._source.close()
        self._file.close()
        if complete and self._hash.hexdigest() == self._expected:
            self._cache._admit(self._key, self._temp, self._size)
        else:
            self._temp.unlink(missing_ok=True)
