"""Stored footage: the encrypted segment format, sealed keys, and MP4 for viewing.

The recorder writes with ``SegmentWriter``; playback and export read with ``iter_packets`` and
``build_fmp4``. design/storage.md describes the file byte by byte.
"""

from __future__ import annotations

from appliance.media.format import (
    Sample,
    SegmentHead,
    SegmentReader,
    SegmentSummary,
    SegmentWriter,
    StreamInfo,
    inspect_segment_file,
)
from appliance.media.playback import (
    SegmentOpener,
    SegmentSource,
    build_fmp4,
    iter_packets,
    open_segment,
)
from appliance.media.sealing import PrivateKeyFileOpener, SegmentKeyOpener, new_segment_key

__all__ = [
    "PrivateKeyFileOpener",
    "Sample",
    "SegmentHead",
    "SegmentKeyOpener",
    "SegmentOpener",
    "SegmentReader",
    "SegmentSource",
    "SegmentSummary",
    "SegmentWriter",
    "StreamInfo",
    "build_fmp4",
    "inspect_segment_file",
    "iter_packets",
    "new_segment_key",
    "open_segment",
]
