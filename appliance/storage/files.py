"""``SegmentFiles``: the one place that knows where a segment's ciphertext is.

The recorder writes every segment into the local segments dir (invariant 3, unchanged). With
an object store configured, ``upload`` puts a complete, indexed segment there and records the
object key on its row; ``drop_local`` then removes the local file (policy, or disk pressure).
``open_bytes`` (the ``SegmentOpener`` of ``appliance.media.playback``) reads the local file
when this node has it, else the object through the read cache. ``destroy`` is the purge's
step 2 for one segment: file, object and cache entry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col

from appliance.errors import ApplianceError, FootageCorrupt
from appliance.media.format import ByteStream, RandomSource
from appliance.media.playback import FileSource
from appliance.models.media import Segment
from appliance.storage.base import ObjectMissing, SegmentStore
from appliance.storage.cache import ReadCache
from appliance.storage.early import EarlyReads
from appliance.storage.remote import StoreSource, TailCache, warm_tail
from appliance.storage.s3 import file_md5

__all__ = ["SegmentFiles"]

log = logging.getLogger(__name__)

# Read-ahead downloads into the cache (``SegmentFiles.prefetch``): a few at a time per process.
_READ_AHEAD = ThreadPoolExecutor(max_workers=2, thread_name_prefix="segment-read-ahead")


class SegmentFiles:
    """Local segments dir + optional object store (+ its read cache)."""

    def __init__(
        self,
        segments_dir: Path,
        store: SegmentStore | None = None,
        *,
        prefix: str = "",
        cache: ReadCache | None = None,
        drop_after_upload: bool = False,
        tails: TailCache | None = None,
    ) -> None:
        self.segments_dir = segments_dir
        self.store = store
        self.prefix = prefix
        self.cache = cache
        self.drop_after_upload = drop_after_upload
        self._fetching: dict[str, Future[None]] = {}  # keys being read ahead
        # The tails of objects sought lately or warmed (in memory).
        self._tails = tails if tails is not None else TailCache()
        self._early = EarlyReads()
        self._lock = threading.Lock()

    @property
    def remote(self) -> bool:
        """True when segments are uploaded to an object store."""
        return self.store is not None

    def local_path(self, segment: Segment) -> Path:
        return self.segments_dir / segment.path

    def key_for(self, path: str) -> str:
        """The object key of a segment path (``segment.path``)."""
        return self.prefix + path

    # -- reading ----------------------------------------------------------------------------

    def open_bytes(self, segment: Segment) -> ByteStream:
        """The segment's ciphertext: this node's file if it has one, else the object."""
        return self._open_bytes(segment, wait=True)

    def _open_bytes(self, segment: Segment, *, wait: bool) -> ByteStream:
        try:
            return self.local_path(segment).open("rb")
        except FileNotFoundError:
            pass
        key = segment.object_key
        if key is None or self.store is None:
            raise FootageCorrupt(f"segment file {segment.path} is missing")
        store = self.store

        def fetch() -> ByteStream:
            early = self._early.take(key)
            try:
                return early.result() if early is not None else store.open_range(key)
            except ObjectMissing as exc:
                raise FootageCorrupt(f"segment object {key} is missing") from exc

        if self.cache is None:
            return fetch()
        with self._lock:
            coming = self._fetching.get(key) if wait else None
        if coming is not None:
            # Being read ahead: wait for it rather than download it twice (then a cache hit).
            coming.result()
        return self.cache.open(key, segment.size_bytes, segment.digest, fetch)

    def open_early(self, segment: Segment, at_ms: int | None = None) -> None:
        """Start reading the segment's object now for an ``open_bytes`` that follows (a
        viewer's first segment while the span is committed: ``EarlyReads``). Nothing to do for
        a seek (``at_ms`` inside it: ``warm_tails`` covers what it reads first), nor for a
        segment this node has as a file or in the read cache. Never blocks."""
        key, store = segment.object_key, self.store
        if key is None or store is None or (at_ms is not None and at_ms > segment.start_ms):
            return
        if (self.cache is not None and key in self.cache) or self.local_path(segment).exists():
            return
        self._early.start(key, lambda: store.open_range(key))

    def open_random(self, segment: Segment) -> RandomSource:
        """The segment's ciphertext by offset (a seek, ``SegmentReader.seek``): this node's
        file, else the read cache's copy, else the object itself (not cached: a seek reads
        only part of it, and the cache keeps whole verified objects only)."""
        try:
            return FileSource(self.local_path(segment))
        except FootageCorrupt:
            pass
        key = segment.object_key
        if key is None or self.store is None:
            raise FootageCorrupt(f"segment file {segment.path} is missing")
        cache = self.cache
        cached = cache.cached_path(key) if cache is not None else None
        if cache is not None and cached is not None:
            try:
                return FileSource(cached)
            except FootageCorrupt:  # evicted meanwhile
                cache.discard(key)
        return StoreSource(self.store, key, segment.size_bytes, self._tails)

    def warm_tails(self, segments: Sequence[Segment]) -> int:
        """Fetch the tails (footer and INDEX) of these segments' objects into memory in the
        background, so a later seek into any of them costs one GET instead of two: a viewer
        opening a range and scrubbing it. Only segments this node has neither as a file nor in
        the read cache, and no more than the tail cache holds. Returns how many it fetches."""
        store = self.store
        if store is None:
            return 0
        started = 0
        for segment in segments:
            if started >= self._tails.entries // 2:
                break
            key = segment.object_key
            if key is None or self.local_path(segment).exists():
                continue
            if self.cache is not None and key in self.cache:
                continue
            started += warm_tail(store, key, segment.size_bytes, self._tails)
        return started

    def prefetch(self, segments: Sequence[Segment]) -> None:
        """Download these segments' objects into the read cache in the background: the
        read-ahead of a viewing range (playback asks for the next segment once the current one
        has sent its first bytes, so it is local when the viewer reaches it). Nothing to do
        without a cache, for a segment this node has or that is cached or already coming."""
        cache = self.cache
        if cache is None or self.store is None:
            return
        for segment in segments:
            key = segment.object_key
            if key is None or key in cache or segment.size_bytes > cache.max_bytes:
                continue
            if self.local_path(segment).exists():
                continue
            with self._lock:
                if key not in self._fetching:
                    self._fetching[key] = _READ_AHEAD.submit(self._read_ahead, segment, key)

    def _read_ahead(self, segment: Segment, key: str) -> None:
        try:
            # Through the cache: kept once whole and verified.
            stream = self._open_bytes(segment, wait=False)
            try:
                while stream.read(1 << 20):
                    pass
            finally:
                stream.close()
        except (ApplianceError, OSError) as exc:  # the viewer will read it then, or fail then
            log.info("read-ahead of %s failed: %s", key, exc)
        finally:
            with self._lock:
                self._fetching.pop(key, None)

    # -- writing ----------------------------------------------------------------------------

    def upload(self, session: Session, segment: Segment, now_ms: int) -> str | None:
        """Put the local file in the object store and record its key on the row.

        ``StoreUnavailable`` (and the file's OSError) pass to the caller, who retries. The row
        is updated only after the store confirmed the object, so a key on a row always names
        a complete object. Returns the key, or None if the purge destroyed the segment while
        it was uploaded (the row gone or its key shredded): the new object is deleted at once.
        """
        assert self.store is not None, "upload without an object store"
        assert segment.id is not None
        key = self.key_for(segment.path)
        path = self.local_path(segment)
        self.store.put(key, path, md5=file_md5(path))
        updated = session.execute(
            update(Segment)
            .where(col(Segment.id) == segment.id, col(Segment.sealed_key).is_not(None))
            .values(object_key=key, uploaded_ms=now_ms)
            .returning(col(Segment.id))
        ).first()
        if updated is None:
            self.store.delete(key)
            return None
        segment.object_key, segment.uploaded_ms = key, now_ms
        return key

    def drop_local(self, session: Session, segment: Segment) -> int:
        """Remove this node's file of an uploaded segment; returns the bytes freed.

        The row's ``local_copy = false`` is committed first, then the file is unlinked: a crash
        in between leaves only an extra copy of an object (the recorder's reconcile deletes
        it at the next start), never a row that claims a file that is gone.
        """
        if segment.object_key is None:
            raise ValueError(f"segment {segment.id} is not uploaded; its file is the only copy")
        session.execute(
            update(Segment).where(col(Segment.id) == segment.id).values(local_copy=False)
        )
        session.commit()
        segment.local_copy = False
        path = self.local_path(segment)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def destroy(self, path: str, object_key: str | None) -> None:
        """Step 2 of the purge for one segment whose key is already shredded: the local file
        (the caller unlinks and fsyncs by directory), the object and the cached copy."""
        if object_key is not None and self.store is not None:
            self.store.delete(object_key)
        if object_key is not None and self.cache is not None:
            self.cache.discard(object_key)
        if object_key is not None:
            self._tails.discard(object_key)
