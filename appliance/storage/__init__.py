"""Where segment ciphertext is kept: the local segments dir and an S3-compatible object store.

``SegmentStore`` is the interface (put, open a byte range, delete, stat, list), with
``LocalDirStore`` and ``S3Store``; ``SegmentFiles`` joins the segments dir, the store and the
bounded ``ReadCache`` for the recorder's uploader, playback, the purge and fsck;
``open_segment_files(settings)`` builds it from ``[storage]``. design/storage.md, "Object
store"; the all-in-one Swift the tests use: design/scale.md.
"""

from __future__ import annotations

from appliance.settings import Settings
from appliance.storage.base import ObjectInfo, ObjectMissing, SegmentStore, StoreUnavailable
from appliance.storage.cache import ReadCache
from appliance.storage.credentials import S3Credentials, load_credentials
from appliance.storage.files import SegmentFiles
from appliance.storage.local import LocalDirStore
from appliance.storage.pressure import drop_uploaded_copies
from appliance.storage.s3 import S3Store
from appliance.storage.uploader import Uploader, UploadPass

__all__ = [
    "LocalDirStore",
    "ObjectInfo",
    "ObjectMissing",
    "ReadCache",
    "S3Credentials",
    "S3Store",
    "SegmentFiles",
    "SegmentStore",
    "StoreUnavailable",
    "UploadPass",
    "Uploader",
    "drop_uploaded_copies",
    "open_segment_files",
]


def open_segment_files(settings: Settings, *, store: SegmentStore | None = None) -> SegmentFiles:
    """``SegmentFiles`` for ``settings``: the local dir alone (``backend = "local"``), or with
    the S3 store, its read cache (``<data_dir>/cache``) and the local-copy policy. ``store``
    replaces the configured store (tests, tools)."""
    storage = settings.storage
    if storage.backend == "local" and store is None:
        return SegmentFiles(settings.segments_dir)
    if store is None:
        s3 = S3Store(
            storage.object_endpoint,
            storage.object_bucket,
            load_credentials(storage.object_credentials_file),
            region=storage.object_region,
        )
        store = s3
    cache = (
        ReadCache(storage.data_dir / "cache", storage.cache_max_bytes)
        if storage.cache_max_bytes > 0
        else None
    )
    return SegmentFiles(
        settings.segments_dir,
        store,
        prefix=storage.object_prefix,
        cache=cache,
        drop_after_upload=storage.local_copy == "drop_after_upload",
    )
