"""``StoreSource``: an object in the segment store as a ``RandomSource`` (a seek's reads).

``SegmentReader.seek`` reads the file's head (the HEAD message) and its tail (the footer and the
INDEX message) before it jumps to the wanted key frame. Over a network each read is a round
trip; this starts both GETs at once when it is made (the row gives the object's size), so a seek
costs two round trips in sequence, not three: head and tail together, then the stream from the
key frame (``SegmentStore.open_range``, whose S3 form reads ahead in windows).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from appliance.errors import FootageCorrupt
from appliance.media.format import ByteStream, seek_ranges
from appliance.storage.base import ObjectMissing, SegmentStore

__all__ = ["StoreSource"]

# The head and tail GETs of seeks in flight; they are short (16 KiB each) and I/O-bound.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="segment-seek")


class StoreSource:
    """Bytes of ``key`` (``size`` bytes, from the row) by offset, from ``store``."""

    def __init__(self, store: SegmentStore, key: str, size: int) -> None:
        self.size = size
        self._store, self._key = store, key
        self._ahead: dict[tuple[int, int], Future[bytes]] = {
            span: _POOL.submit(self._get, *span) for span in seek_ranges(size)
        }

    def _get(self, start: int, end: int) -> bytes:
        stream = self._open(start, end)
        try:
            return stream.read()
        finally:
            stream.close()

    def _open(self, start: int, end: int | None) -> ByteStream:
        try:
            return self._store.open_range(self._key, start, end)
        except ObjectMissing as exc:
            raise FootageCorrupt(f"segment object {self._key} is missing") from exc

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
