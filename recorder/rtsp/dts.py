"""Decoding time stamps for the native client: what RTP does not carry, derived per access unit.

RTP time stamps are presentation times (PTS). A stream with B-frames sends pictures in decoding
order, so PTS go back and forth, and an MP4 needs decoding times (DTS) that increase with every
sample and never pass their PTS. With a reorder depth ``N`` (how many pictures at most are sent
before a picture that they follow on screen), the DTS of the i-th picture in decoding order is the
(i - N)-th smallest PTS of the stream: every picture shown up to that one has arrived by then.
That is the running minimum of a window of the ``N + 1`` greatest PTS seen (one insertion per
picture, no look-ahead, no added latency); the first ``N`` pictures of a session get DTS one
typical frame apart before the first PTS.

Where ``N`` comes from: the SPS (H.264 VUI ``max_num_reorder_frames``, H.265
``sps_max_num_reorder_pics``; ``appliance.media.poc``), and the bitstream checks it: when ``N`` is
above 0, each picture's order count (POC, from its first slice header) is compared with the
pictures before it, and a picture that more than ``N`` earlier pictures follow on screen (or a
PTS below the window: time stamps that disagree with ``N``) ends the session with the depth
actually seen (``IngestError.reorder_depth``); the worker reconnects with it. A stream in
display order (``N`` = 0, most cameras) costs one comparison per picture: no slice is parsed.

What this refuses, by name, and FFmpeg's ingest reads instead: field-coded (interlaced)
pictures, slices whose parameter sets never came, and a reorder deeper than 16 pictures.
RASL pictures after the session's first H.265 CRA are dropped (they refer to pictures before
the session began and cannot be decoded).
"""

from __future__ import annotations

from bisect import bisect_right, insort

from appliance.errors import MediaError
from appliance.media._nal import H265
from appliance.media.poc import (
    PocCounterH264,
    PocCounterH265,
    parse_h264_pps,
    parse_h264_sps,
    parse_h265_pps,
    parse_h265_sps,
)
from recorder.status import FailReason, IngestError

__all__ = ["MAX_REORDER", "DtsExtractor"]

MAX_REORDER = 16  # the most pictures a DPB holds (H.264 A.3.1, H.265 A.4.2)
_START = b"\x00\x00\x01"


class DtsExtractor:
    """DTS for one session's video access units in arrival (decoding) order; see the module
    docstring. ``step`` is the DTS spacing of a session's first pictures (a typical frame)."""

    def __init__(self, codec: str, param_sets: bytes, *, step: int, depth_hint: int = 0) -> None:
        self.h265 = codec == H265
        self.counter: PocCounterH264 | PocCounterH265 = (
            PocCounterH265() if self.h265 else PocCounterH264()
        )
        self._hint = depth_hint
        self.depth = depth_hint
        self._step = step
        self._window: list[int] = []  # the depth + 1 greatest PTS so far, ascending
        self._pocs: list[int] = []  # POCs of the current sequence's latest pictures, ascending
        self._recent: list[int] = []  # the same POCs in decoding order (to drop the oldest)
        self._last = -(1 << 62)  # the last DTS handed out
        self._started = False
        self._skip_rasl = False
        self.parsed_slices = 0
        self._known: set[bytes] = set()  # parameter set NAL units already parsed
        if param_sets:
            self._parameter_sets(param_sets)

    def dts(self, data: bytes, pts: int, key: bool) -> int | None:
        """The DTS of the access unit ``data`` (Annex-B) with presentation time ``pts``, or
        None to drop it (nothing decodable yet, or a RASL picture). IngestError when the
        stream reorders deeper than the session's depth, or cannot be followed."""
        if key:
            self._parameter_sets(data)
            self._started = True
        elif not self._started:
            return None  # before the first key frame: the session drops it anyway
        depth = self.depth
        if depth:
            if self._check_order(data):
                return None
        elif pts > self._last:  # in display order: DTS = PTS
            self._last = pts
            return pts
        else:
            self._deeper(1, "its time stamps")
        window = self._window
        if len(window) > depth and pts < window[0]:
            later = len(window) - bisect_right(window, pts)
            self._deeper(max(later, depth + 1), "its time stamps")
        insort(window, pts)
        while len(window) > depth + 1:
            del window[0]
        dts = window[0] - (depth + 1 - len(window)) * self._step
        if dts <= self._last:  # (only when a new session's first pictures crowd the window)
            dts = self._last + 1
        self._last = dts
        return dts

    def _check_order(self, data: bytes) -> bool:
        """Follow the POC of this picture; True to drop it (RASL). Raises past the depth."""
        nal = _first_slice(data, self.h265)
        if nal is None:
            raise IngestError(FailReason.stream_error, "an access unit without a picture")
        try:
            poc = self.counter.poc(nal)
        except MediaError as exc:
            raise IngestError(
                FailReason.stream_error,
                f"cannot follow the picture order ({exc}): reading it through FFmpeg",
                use_ffmpeg=True,
            ) from exc
        self.parsed_slices += 1
        if self.h265:
            kind = (nal[0] >> 1) & 0x3F
            if isinstance(self.counter, PocCounterH265) and self.counter.starts_sequence:
                self._skip_rasl = kind == 21 or 16 <= kind <= 18  # CRA or BLA opens it
                self._pocs, self._recent = [], []
            elif kind < 16 and kind not in (8, 9):
                self._skip_rasl = self._skip_rasl and kind in (6, 7)  # (RADL in between)
            if kind in (8, 9) and self._skip_rasl:
                return True
        elif nal[0] & 0x1F == 5:
            self._pocs, self._recent = [], []
        pocs = self._pocs
        later = len(pocs) - bisect_right(pocs, poc)
        if later > self.depth:
            self._deeper(later, "its picture order counts")
        insort(pocs, poc)
        self._recent.append(poc)
        if len(self._recent) > MAX_REORDER + 1:
            pocs.remove(self._recent.pop(0))
        return False

    def _deeper(self, depth: int, evidence: str) -> None:
        if depth > MAX_REORDER:
            raise IngestError(
                FailReason.stream_error,
                f"the camera reorders more than {MAX_REORDER} pictures ({evidence}): "
                "reading it through FFmpeg",
                use_ffmpeg=True,
            )
        raise IngestError(
            FailReason.stream_error,
            f"the camera reorders {depth} pictures ({evidence}), more than the {self.depth} "
            "its SPS declares: reconnecting with that depth",
            reorder_depth=depth,
        )

    def _parameter_sets(self, data: bytes) -> None:
        """Parse the SPS/PPS at the front of ``data`` that are new (a few ``find`` calls)."""
        h265, counter = self.h265, self.counter
        pos = data.find(_START)
        while pos >= 0:
            begin = pos + 3
            if begin >= len(data):
                break
            kind = (data[begin] >> 1) & 0x3F if h265 else data[begin] & 0x1F
            if (kind < 32) if h265 else (1 <= kind <= 5):
                break  # the first picture: parameter sets come before it
            nxt = data.find(_START, begin)
            nal = data[begin : nxt if nxt >= 0 else len(data)].rstrip(b"\x00")
            if nal in self._known:
                pos = nxt
                continue
            if len(self._known) > 64:
                self._known.clear()
            self._known.add(nal)
            try:
                if kind == (33 if h265 else 7):
                    sps = parse_h265_sps(nal) if h265 else parse_h264_sps(nal)
                    counter.sps[sps.sps_id] = sps  # type: ignore[assignment]
                    self._set_depth(sps.reorder_depth)
                elif kind == (34 if h265 else 8):
                    pps = parse_h265_pps(nal) if h265 else parse_h264_pps(nal)
                    counter.pps[pps.pps_id] = pps  # type: ignore[assignment]
            except MediaError:
                pass  # an unreadable parameter set: the slices that need it will say so
            pos = nxt

    def _set_depth(self, declared: int) -> None:
        depth = max(declared, self._hint)
        if depth > self.depth and self._window:
            # A new SPS mid-session that reorders deeper: this session's DTS cannot make room.
            self._deeper(depth, "a new SPS")
        self.depth = depth


def _first_slice(data: bytes, h265: bool) -> bytes | None:
    """The first picture NAL unit of an access unit (header included, the rest of the unit
    after it is not copied beyond what the slice header needs)."""
    pos = data.find(_START)
    while pos >= 0:
        begin = pos + 3
        if begin >= len(data):
            return None
        kind = (data[begin] >> 1) & 0x3F if h265 else data[begin] & 0x1F
        if (kind < 32) if h265 else (1 <= kind <= 5):
            return data[begin : begin + 64]
        pos = data.find(_START, begin)
    return None
