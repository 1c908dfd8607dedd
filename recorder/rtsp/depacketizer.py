"""RTP depacketizing for H.264 (RFC 6184) and H.265 (RFC 7798) over interleaved RTSP (RFC 2326
10.12): the byte stream of one camera's connection in, access units (``recorder.source.Packet``)
out.

Why ``InterleavedReader.parse`` is one long function: its loop body runs once per RTP packet,
about 11,000 times a second for 30 cameras, and it is most of the native client's CPU. Helper
calls, per-packet objects and attribute access in that loop would each cost more than the work
itself, so the state lives in locals for a call and the per-NAL-kind cases are inlined. Split it
and the native client loses what it was written for (see ``recorder.rtsp.client``).
"""

from __future__ import annotations

import re
import struct

from appliance.media._nal import H265
from recorder.rtsp.sdp import START_CODE
from recorder.source import Packet
from recorder.status import FailReason, IngestError

__all__ = ["MAX_HEADER_BYTES", "InterleavedReader"]

_START = START_CODE
_RTP_HEADER = struct.Struct(">BBHI")  # V/P/X/CC, M/PT, sequence number, timestamp
_MAX_ACCESS_UNIT = 16 << 20
MAX_HEADER_BYTES = 64 << 10  # the longest RTSP answer head taken before giving up


_Part = bytes | bytearray | memoryview


def _emit(parts: list[_Part], ts: int, key: bool, has_params: bool, param_sets: bytes) -> Packet:
    if key and not has_params and param_sets:
        parts.insert(0, param_sets)
    return Packet(b"".join(parts), ts, ts, key)


class InterleavedReader:
    """Turns the interleaved RTSP byte stream into access units (RFC 2326 10.12, RFC 3550 RTP,
    RFC 6184 H.264, RFC 7798 H.265). State is kept across calls; a call parses every complete
    frame in the buffer. The per-RTP-packet path is flat on purpose (module docstring).
    """

    def __init__(self, codec: str, *, channel: int, payload_type: int, param_sets: bytes) -> None:
        self.h265 = codec == H265
        self.channel = channel
        self.payload_type = payload_type
        self.param_sets = param_sets
        self.bad_packets = 0  # RTP packets that were malformed or of an unsupported kind
        self.damaged_units = 0  # access units dropped (a packet missing or malformed)
        self._parts: list[_Part] = []
        self._size = 0
        self._key = self._has_params = self._damaged = self._in_fu = False
        self._au_ts = -1  # 32-bit RTP time of the unit being collected
        self._seq = -1  # next expected sequence number
        self._ext = 0  # the last unit's RTP time, unwrapped
        self._first_ts: int | None = None

    def parse(self, buf: bytearray, fill: int) -> tuple[int, list[Packet]]:
        """(bytes consumed, finished access units) for ``buf[:fill]``.

        Payloads are collected as views of ``buf`` and copied once, when their unit is joined;
        the caller may reuse ``buf`` after the call (the unfinished unit's pieces are copied
        out before returning)."""
        out: list[Packet] = []
        view = memoryview(buf)
        h265, channel, payload_type = self.h265, self.channel, self.payload_type
        fu_kind, ap_kind, hdr = (49, 48, 2) if h265 else (28, 24, 1)
        parts, size, key, has_params = self._parts, self._size, self._key, self._has_params
        damaged, in_fu, au_ts, expected = self._damaged, self._in_fu, self._au_ts, self._seq
        unpack = _RTP_HEADER.unpack_from
        pos = 0
        while fill - pos >= 4:
            if buf[pos] != 0x24:  # an RTSP message (a keepalive's answer) or garbage
                nxt = self._skip(buf, pos, fill)
                if nxt < 0:
                    break
                pos = nxt
                continue
            end = pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
            if end > fill:
                break
            if buf[pos + 1] != channel or end - pos < 17:
                pos = end  # RTCP, another channel, or too short to carry a payload
                continue
            b0, b1, seq, ts32 = unpack(buf, pos + 4)
            start = pos + 16 + 4 * (b0 & 0x0F)
            if b0 & 0x10 and start + 4 <= end:  # header extension
                start += 4 + 4 * ((buf[start + 2] << 8) | buf[start + 3])
            stop = end - buf[end - 1] if b0 & 0x20 else end
            pos = end
            if b0 >> 6 != 2 or b1 & 0x7F != payload_type or start >= stop:
                self.bad_packets += 1
                continue
            if seq != expected and expected >= 0:
                damaged, in_fu = True, False  # a packet is missing: this unit is not whole
            expected = (seq + 1) & 0xFFFF
            if ts32 != au_ts:
                if parts or damaged:  # the previous unit's marker packet never came
                    if damaged or not parts:
                        self.damaged_units += 1
                    else:
                        out.append(self._finish(parts, au_ts, key, has_params))
                    parts, size, key, has_params, damaged, in_fu = [], 0, False, False, False, False
                au_ts = ts32
            first = buf[start]
            kind = (first >> 1) & 0x3F if h265 else first & 0x1F
            if kind == fu_kind:
                if stop - start <= hdr + 1:
                    damaged = True
                else:
                    fu = buf[start + hdr]
                    if fu & 0x80:
                        if h265:
                            nal = fu & 0x3F
                            header = bytes(((first & 0x81) | (nal << 1), buf[start + 1]))
                            key = key or 16 <= nal <= 23
                            has_params = has_params or nal == 33
                        else:
                            nal = fu & 0x1F
                            header = bytes(((first & 0xE0) | nal,))
                            key = key or nal == 5
                            has_params = has_params or nal == 7
                        parts.append(_START)
                        parts.append(header)
                        in_fu = True
                    elif not in_fu:
                        damaged = True
                    parts.append(view[start + hdr + 1 : stop])
                    size += stop - start
                    if fu & 0x40:
                        in_fu = False
            elif kind == ap_kind:
                at = start + hdr
                while at + 2 < stop:
                    length = (buf[at] << 8) | buf[at + 1]
                    if length == 0 or at + 2 + length > stop:
                        damaged = True
                        break
                    nal = (buf[at + 2] >> 1) & 0x3F if h265 else buf[at + 2] & 0x1F
                    key = key or (16 <= nal <= 23 if h265 else nal == 5)
                    has_params = has_params or nal == (33 if h265 else 7)
                    parts.append(_START)
                    parts.append(view[at + 2 : at + 2 + length])
                    size += length
                    at += 2 + length
            elif (kind < 48) if h265 else (0 < kind < 24):
                key = key or (16 <= kind <= 23 if h265 else kind == 5)
                has_params = has_params or kind == (33 if h265 else 7)
                parts.append(_START)
                parts.append(view[start:stop])
                size += stop - start
            elif not (h265 and kind == 50):  # (PACI carries nothing a recording needs)
                self.bad_packets += 1
                damaged = True
            if size > _MAX_ACCESS_UNIT:
                damaged = True
            if b1 & 0x80:  # marker: the unit is complete
                if damaged or not parts:
                    self.damaged_units += 1
                else:
                    out.append(self._finish(parts, au_ts, key, has_params))
                parts, size, key, has_params, damaged, in_fu = [], 0, False, False, False, False
                au_ts = -1
        if parts:  # the unit goes on in the next call: its pieces must not change with buf
            parts = [b"".join(parts)]
        self._parts, self._size, self._key, self._has_params = parts, size, key, has_params
        self._damaged, self._in_fu, self._au_ts, self._seq = damaged, in_fu, au_ts, expected
        return pos, out

    def _skip(self, buf: bytearray, pos: int, fill: int) -> int:
        """Where the RTSP message (or the garbage up to the next '$') at ``pos`` ends; -1 if the
        message is not complete yet."""
        if buf.startswith(b"RTSP/", pos, fill) or fill - pos < 5:
            end = buf.find(b"\r\n\r\n", pos, fill)
            if end < 0:
                if fill - pos > MAX_HEADER_BYTES:
                    raise IngestError(FailReason.stream_error, "garbage on the RTSP connection")
                return -1
            head = bytes(buf[pos:end]).decode("utf-8", "replace").lower()
            length = re.search(r"content-length:\s*(\d+)", head)
            total = end + 4 + (int(length.group(1)) if length else 0)
            return total if total <= fill else -1
        self.bad_packets += 1
        found = buf.find(b"$", pos + 1, fill)
        return found if found >= 0 else fill

    def _finish(self, parts: list[_Part], ts32: int, key: bool, has_params: bool) -> Packet:
        """The access unit, time-stamped from the first unit on (the 32-bit clock unwrapped).
        The time stamp is the presentation time; ``recorder.rtsp.dts`` sets the decoding time."""
        if self._first_ts is None:
            self._first_ts = self._ext = ts32
        else:  # the signed 32-bit step from the last unit
            step = ((ts32 - self._ext + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
            self._ext += step
        return _emit(parts, self._ext - self._first_ts, key, has_params, self.param_sets)
