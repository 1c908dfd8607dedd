"""Segment files on disk: writing one (then ``recorder.indexer``, ``recorder.reconcile``).

Durability order (invariant 3), per segment:

1. samples are encrypted into ``.<name>.seg.tmp`` as they arrive (ciphertext only);
2. the trailer and footer are written; a ``pending_segment`` row (the sealed key) is committed;
3. the file is fsynced, renamed to ``<name>.seg``, and its directory fsynced;
4. one transaction inserts the ``segment`` row (with the SHA-256 of the file) and deletes the
   pending row.

A crash before 2 leaves a temp file (deleted at start); between 2 and 4 a complete file with its
pending row (re-indexed at start); nothing indexed is ever unreadable. Step 1 is ``OpenSegment``
here, steps 2-4 ``recorder.indexer.SegmentIndexer``, the start-up repair ``recorder.reconcile``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from appliance.media.format import (
    SegmentHead,
    SegmentSummary,
    SegmentWriter,
)
from appliance.media.layout import (
    ensure_dir,
    segment_relpath,
    temp_path_for,
)
from appliance.media.sealing import new_segment_key

__all__ = ["FinishedSegment", "OpenSegment"]


@dataclass
class FinishedSegment:
    """A segment whose file is complete but not yet durable nor indexed."""

    camera_id: str
    run_id: int | None
    relpath: str
    final_path: Path
    temp_path: Path
    fd: int
    vault_key_id: str
    sealed_key: bytes
    summary: SegmentSummary
    size_bytes: int
    digest: str
    # The camera's lease epoch this segment was recorded under (several nodes; None: a single
    # box). The indexer inserts the row only if the lease is still at this epoch (the fence).
    lease_epoch: int | None = None


class OpenSegment:
    """The segment being written for one camera: a temp file and its encrypting writer."""

    def __init__(
        self,
        segments_dir: Path,
        head: SegmentHead,
        *,
        run_id: int | None,
        vault_key_id: str,
        public_key: bytes,
    ) -> None:
        self.head = head
        self.run_id = run_id
        self.vault_key_id = vault_key_id
        self.relpath = segment_relpath(head.camera_id, head.start_ms, secrets.token_hex(4))
        self.final_path = segments_dir / self.relpath
        ensure_dir(self.final_path.parent, segments_dir)
        self.temp_path = temp_path_for(self.final_path)
        key, self.sealed_key = new_segment_key(public_key)
        self.fd = os.open(
            self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
        )
        try:
            self.writer = SegmentWriter(self.fd, key, head)
        except BaseException:
            self.abort()
            raise
        del key  # the writer's stream state is all that remains, until finish
        self.frames = 0
        self.key_frames = 0

    def finish(self, end_ms: int) -> FinishedSegment:
        video = self.head.video
        summary = SegmentSummary(
            camera_id=self.head.camera_id,
            start_ms=self.head.start_ms,
            end_ms=max(end_ms, self.head.start_ms + 1),
            frames=self.frames,
            key_frames=self.key_frames,
            samples=self.writer.samples,
            payload_bytes=self.writer.payload_bytes,
            codec=video.codec,
            width=video.width,
            height=video.height,
            has_audio=len(self.head.streams) > 1,
        )
        size, digest = self.writer.finish(summary)
        return FinishedSegment(
            camera_id=self.head.camera_id,
            run_id=self.run_id,
            relpath=self.relpath,
            final_path=self.final_path,
            temp_path=self.temp_path,
            fd=self.fd,
            vault_key_id=self.vault_key_id,
            sealed_key=self.sealed_key,
            summary=summary,
            size_bytes=size,
            digest=digest,
        )

    def abort(self) -> None:
        """Drop an unusable segment (nothing indexed refers to it)."""
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.temp_path.unlink(missing_ok=True)
