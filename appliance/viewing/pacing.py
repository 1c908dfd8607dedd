"""Recorded playback paced near real time: a burst ahead, then by media time (issue 13).

A "viewing" of 24 h x 16 cameras must not become a bulk download that starves the recorder's
disk and cores. ``paced`` reads the media time of each fragment from its ``tfdt`` box
(``FragmentClock``, a small streaming MP4 box reader: it keeps only box headers and the small
``moov``/``moof`` boxes, never the media data) and holds a fragment back until it is at most
``burst_s`` ahead of the wall clock since the stream started. Seeking is opening another
stream at another start, which gets its own burst. While it waits it asks ``keep_going``, so
a stopped stream or an ended session ends it promptly.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator

__all__ = ["FragmentClock", "paced"]

_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"moof", b"traf"})
_KEEP = frozenset({b"moov", b"moof"})  # small boxes read whole (headers and sample tables)
_MAX_KEPT = 16 * 1024**2  # a moov or moof larger than this is skipped, not buffered
_WAIT_STEP_S = 0.25


class FragmentClock:
    """Fed the bytes of a fragmented MP4 in order; tells the media time of each fragment."""

    def __init__(self) -> None:
        self.timescale: int | None = None
        self._header = b""  # a top-level box header split across chunks
        self._skip = 0  # bytes left of a box that is not read
        self._box = bytearray()  # a kept box being collected
        self._need = 0

    def feed(self, data: bytes) -> float | None:
        """The media time (s) of the last fragment that completed in ``data``, if any."""
        found: float | None = None
        view = memoryview(data)
        i = 0
        while i < len(view):
            if self._skip:
                step = min(self._skip, len(view) - i)
                self._skip -= step
                i += step
            elif self._need:
                step = min(self._need, len(view) - i)
                self._box += view[i : i + step]
                self._need -= step
                i += step
                if not self._need:
                    at = self._read(bytes(self._box))
                    found = found if at is None else at
                    self._box = bytearray()
            else:
                take = min(16 - len(self._header), len(view) - i)
                header = self._header + bytes(view[i : i + take])
                size, kind, length = _box_header(header)
                if length == 0:  # the header goes on in the next chunk
                    self._header = header
                    i += take
                    continue
                i += length - len(self._header)
                self._header = b""
                # A box "to the end of the file" (size 0) or a broken size: time no more.
                body = size - length if size >= length else 1 << 62
                if kind in _KEEP and size and size <= _MAX_KEPT:
                    self._box = bytearray(header[:length])
                    self._need = body
                else:
                    self._skip = body
        return found

    def _read(self, box: bytes) -> float | None:
        """The fragment time of a whole ``moof`` (or the timescale of a ``moov``)."""
        at: float | None = None
        for kind, payload in _walk(box):
            if kind == b"mdhd" and self.timescale is None and payload:
                offset = 20 if payload[0] == 1 else 12
                if len(payload) >= offset + 4:
                    self.timescale = struct.unpack_from(">I", payload, offset)[0] or None
            elif kind == b"tfdt" and self.timescale and payload:
                wide = payload[0] == 1
                if len(payload) >= (12 if wide else 8):
                    base = struct.unpack_from(">Q" if wide else ">I", payload, 4)[0]
                    at = base / self.timescale
        return at


def _box_header(data: bytes) -> tuple[int, bytes, int]:
    """(size, type, header length) of the box at the start of ``data``; length 0: too short."""
    if len(data) < 8:
        return 0, b"", 0
    size, kind = struct.unpack_from(">I4s", data)
    if size == 1:
        if len(data) < 16:
            return 0, kind, 0
        return struct.unpack_from(">Q", data, 8)[0], kind, 16
    return size, kind, 8


def _walk(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Every (type, payload) in ``data``, descending into container boxes."""
    i = 0
    while i + 8 <= len(data):
        size, kind, length = _box_header(data[i:])
        if length == 0:
            return
        if size == 0:
            size = len(data) - i
        if size < length or i + size > len(data):
            return
        payload = data[i + length : i + size]
        if kind in _CONTAINERS:
            yield from _walk(payload)
        else:
            yield kind, payload
        i += size


def paced(
    chunks: Iterator[bytes],
    *,
    burst_s: float,
    keep_going: Callable[[], bool],
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bytes]:
    """``chunks`` no faster than real time once ``burst_s`` of media is out; stops when
    ``keep_going()`` turns false (asked before each chunk and while waiting)."""
    clock = FragmentClock()
    started: float | None = None
    first: float = 0.0
    for chunk in chunks:
        at = clock.feed(chunk)
        if at is not None:
            if started is None:
                started, first = monotonic(), at
            due = started + (at - first) - burst_s
            while (wait := due - monotonic()) > 0:
                if not keep_going():
                    return
                sleep(min(wait, _WAIT_STEP_S))
        if not keep_going():
            return
        yield chunk
