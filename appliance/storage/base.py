"""The segment store interface: where complete, encrypted segment files are kept.

A store holds opaque ciphertext under keys (``<prefix><segment path>``); it never sees a key
that opens it (the sealed per-segment keys stay in the database, design/keys.md), so it need
not be trusted. Two implementations: ``LocalDirStore`` (a directory: the segments dir itself,
today's behaviour, or a mounted share) and ``S3Store`` (any S3-compatible object store).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from appliance.errors import ApplianceError
from appliance.media.format import ByteStream

__all__ = ["ByteStream", "ObjectInfo", "ObjectMissing", "SegmentStore", "StoreUnavailable"]


class ObjectMissing(ApplianceError):
    """The store has no object under that key."""


class StoreUnavailable(ApplianceError):
    """The store did not answer or refused (network, credentials, server error); retry later."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size_bytes: int


@runtime_checkable
class SegmentStore(Protocol):
    """Put, read (a byte range), delete and list complete segment files.

    Every method is safe to call from several threads. Errors: ``ObjectMissing`` for a key that
    is not there (``open_range``), ``StoreUnavailable`` for everything that may pass.
    """

    #: "local" or "s3": what the segment row and the destruction record name.
    kind: str

    def prepare(self) -> None:
        """Create what the store needs before the first put (the bucket, the directory)."""
        ...

    def put(self, key: str, source: Path, *, md5: bytes | None = None) -> None:
        """Store the complete file ``source`` under ``key``, replacing any object there.

        Returns once the object is durable in the store; a reader never sees a partial one.
        ``md5`` (of the file) lets the store verify the bytes it received.
        """
        ...

    def open_range(
        self, key: str, start: int = 0, end: int | None = None, *, first_end: int | None = None
    ) -> ByteStream:
        """A stream of bytes ``[start, end)`` of the object (``end`` None: to its end).

        The caller closes it. Bytes arrive as the store sends them (time to first byte is one
        request, not the whole object). ``first_end``: the caller will read at least up to
        there at once (a remote store asks for that much in its first request).
        """
        ...

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error (idempotent, for the purge)."""
        ...

    def stat(self, key: str) -> ObjectInfo | None:
        """The object's size, or None if it is not there."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in byte-wise key order (for fsck)."""
        ...
