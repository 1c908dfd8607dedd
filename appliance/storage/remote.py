"""``StoreSource``: an object in the segment store as a ``RandomSource`` (a seek's reads).

``SegmentReader.seek`` reads the file's head (the HEAD message) and its tail (the footer and the
INDEX message) before it jumps to the wanted key frame. Over a network each read is a round
trip; this starts both GETs at once when it is made (the row gives the object's size), so a seek
costs two round trips in sequence, not three: head and tail together, then the stream from the
key frame (``SegmentStore.open_range``, whose S3 form reads ahead in windows).

``TailCache`` keeps the tails of recently sought objects in memory (a few hundred, 16 KiB each:
ciphertext and the clear footer, nothing on disk), so the next seek into the same segment,
the viewing service's second one (first frame, then the stream) or a viewer scrubbing the
timeline, costs one round trip instead of two.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

from appliance.errors import FootageCorrupt
from appliance.media.format import ByteStream, seek_ranges
from appliance.storage.base import ObjectMissing, SegmentStore

__all__ = ["StoreSource", "TailCache", "warm_tail"]

# The head and tail GETs of seeks in flight; they are short (16 KiB each) and I/O-bound.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="segment-seek")


class TailCache:
    """The last ``entries`` objects' seek ranges (``seek_ranges``), least recently used out."""

    def __init__(self, entries: int = 256) -> None:
        self.entries = entries
        self._data: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, start: int, end: int) -> bytes | None:
        with self._lock:
            data = self._data.get((key, start, end))
            if data is not None:
                self._data.move_to_end((key, start, end))
            return data

    def put(self, key: str, start: int, end: int, data: bytes) -> None:
        with self._lock:
            self._data[(key, start, end)] = data
            while len(self._data) > self.entries:
                self._data.popitem(last=False)

    def discard(self, key: str) -> None:
        """Forget an object (the purge deleted it)."""
        with self._lock:
            for entry in [e for e in self._data if e[0] == key]:
                del self._data[entry]


def _fetch(store: SegmentStore, key: str, start: int, end: int) -> bytes:
    try:
        stream = store.open_range(key, start, end)
    except ObjectMissing as exc:
        raise FootageCorrupt(f"segment object {key} is missing") from exc
    try:
        return stream.read()
    finally:
        stream.close()


def _fetch_into(store: SegmentStore, key: str, start: int, end: int, tails: TailCache) -> None:
    tails.put(key, start, end, _fetch(store, key, start, end))


def warm_tail(store: SegmentStore, key: str, size: int, tails: TailCache) -> bool:
    """Fetch the object's seek ranges into ``tails`` in the background (ciphertext only, kept in
    memory), unless they are there; True if a fetch was started. A failed fetch is only a
    later seek's extra round trip, so it is not reported."""
    missing = [(s, e) for s, e in seek_ranges(size) if tails.get(key, s, e) is None]
    for start, end in missing:
        _POOL.submit(_fetch_into, store, key, start, end, tails)
    return bool(missing)


class StoreSource:
    """Bytes of ``key`` (``size`` bytes, from the row) by offset, from ``store``."""

    def __init__(
        self, store: SegmentStore, key: str, size: int, tails: TailCache | None = None
    ) -> None:
        self.size = size
        self._store, self._key = store, key
        self._ahead: dict[tuple[int, int], Future[bytes]] = {}
        for start, end in seek_ranges(size):
            known = tails.get(key, start, end) if tails is not None else None
            if known is None:
                self._ahead[(start, end)] = _POOL.submit(self._get, start, end, tails)
            else:
                done: Future[bytes] = Future()
                done.set_result(known)
                self._ahead[(start, end)] = done

    def _get(self, start: int, end: int, tails: TailCache | None = None) -> bytes:
        data = _fetch(self._store, self._key, start, end)
        if tails is not None:
            tails.put(self._key, start, end, data)
        return data

    def read_at(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        for (first, last), future in self._ahead.items():
            if first <= start and end <= last:
                return future.result()[start - first : end - first]
        return self._get(start, end)

    def stream_from(self, start: int, upto: int | None = None) -> ByteStream:
        self.close()
        try:
            return self._store.open_range(self._key, start, first_end=upto)
        except ObjectMissing as exc:
            raise FootageCorrupt(f"segment object {self._key} is missing") from exc

    def close(self) -> None:
        for future in self._ahead.values():
            future.cancel()
