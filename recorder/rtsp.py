"""A native RTSP client for recording: RTSP over TCP (interleaved RTP), H.264 and H.265 video.

Why not FFmpeg's RTSP demuxer (through PyAV) for every camera: it reads RTP over TCP with three
``recv`` calls per RTP packet, each behind its own ``poll`` (about 70,000 system calls a second
for 30 cameras at 4 Mbit/s); that alone cost more CPU than 30 ``ffmpeg -c copy`` processes
leave for encryption (bench/ingest.py, design/storage.md). This client reads whatever the socket
holds into one buffer per camera (one ``recv`` per burst) and depacketizes in a few slice
operations per RTP packet: the same footage at under half the CPU of the PyAV demux floor.

Scope, on purpose: what recording video needs and nothing else. RTSP 1.0 over TCP, Basic and
Digest (MD5) authentication, one video track (the first H.264 or H.265 ``m=video``), RTP
packetization per RFC 6184 (single NAL unit, STAP-A, FU-A) and RFC 7798 (single, AP, FU).
Audio tracks are never set up (a camera whose group stores audio is read through FFmpeg, see
``recorder.worker``). The packets it yields look like PyAV's (``pts``, ``dts``, ``is_keyframe``,
``stream_index``, ``size``, ``bytes(packet)``) so the recording session is the same code for both.

Access units are Annex-B (start codes), as FFmpeg hands them out; the SDP's parameter sets are
put in front of a key frame that does not carry its own, so every segment decodes on its own.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from appliance.media._nal import H264, H265
from recorder.status import FailReason, IngestError

__all__ = [
    "NativePacket",
    "RtspSource",
    "digest_response",
    "parse_sdp",
]

_START = b"\x00\x00\x00\x01"
_RTP_HEADER = struct.Struct(">BBHI")  # V/P/X/CC, M/PT, sequence number, timestamp
_BUFFER_BYTES = 1 << 20
_MAX_ACCESS_UNIT = 16 << 20
_MAX_HEADER_BYTES = 64 << 10
_KEEPALIVE_MAX_S = 25.0
_USER_AGENT = "clinic-nvr"


class NativePacket:
    """One access unit, shaped like the parts of ``av.Packet`` the recorder reads."""

    __slots__ = ("data", "dts", "is_keyframe", "pts", "size", "stream_index")

    def __init__(self, data: bytes, ts: int, is_keyframe: bool) -> None:
        self.data = data
        self.pts = ts
        self.dts = ts
        self.is_keyframe = is_keyframe
        self.stream_index = 0
        self.size = len(data)

    def __bytes__(self) -> bytes:
        return self.data


# -- SDP ---------------------------------------------------------------------------------------


@dataclass
class MediaDescription:
    kind: str  # "video", "audio", ...
    payload_type: int
    encoding: str = ""  # upper case, e.g. "H264"
    clock_rate: int = 90_000
    control: str = ""
    fmtp: dict[str, str] = field(default_factory=dict)


def parse_sdp(text: str) -> list[MediaDescription]:
    """The media sections of an SDP (RFC 4566), with their rtpmap, fmtp and control."""
    media: list[MediaDescription] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) >= 4 and parts[3].isdigit():
                media.append(MediaDescription(parts[0], int(parts[3])))
            else:
                media.append(MediaDescription(parts[0] if parts else "", -1))
        elif not media or not line.startswith("a="):
            continue
        elif line.startswith("a=rtpmap:"):
            pt, _, rest = line[9:].partition(" ")
            if pt.strip() == str(media[-1].payload_type):
                name, _, rate = rest.strip().partition("/")
                media[-1].encoding = name.upper()
                media[-1].clock_rate = (
                    int(rate.split("/")[0]) if rate.split("/")[0].isdigit() else 0
                )
        elif line.startswith("a=fmtp:"):
            pt, _, rest = line[7:].partition(" ")
            if pt.strip() == str(media[-1].payload_type):
                for item in rest.split(";"):
                    key, _, value = item.strip().partition("=")
                    if key:
                        media[-1].fmtp[key.lower()] = value.strip()
        elif line.startswith("a=control:"):
            media[-1].control = line[10:].strip()
    return media


def _parameter_sets(media: MediaDescription, codec: str) -> bytes:
    """The SDP's parameter sets (sprop-*), Annex-B."""
    if codec == H264:
        encoded = media.fmtp.get("sprop-parameter-sets", "").split(",")
    else:
        encoded = [media.fmtp.get(k, "") for k in ("sprop-vps", "sprop-sps", "sprop-pps")]
    units = []
    for item in encoded:
        item = item.strip()
        if not item:
            continue
        try:
            units.append(_START + base64.b64decode(item + "=" * (-len(item) % 4)))
        except ValueError:
            continue
    return b"".join(units)


# -- authentication ----------------------------------------------------------------------------


def digest_response(
    *,
    username: str,
    password: str,
    realm: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str = "",
    nc: str = "00000001",
    cnonce: str = "",
) -> str:
    """The ``response`` of HTTP Digest authentication with MD5 (RFC 2617), as RTSP uses it."""

    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    ha1 = md5(f"{username}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    if qop:
        return md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return md5(f"{ha1}:{nonce}:{ha2}")


_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


def _challenges(values: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for value in values:
        scheme, _, rest = value.strip().partition(" ")
        params = {
            m.group(1).lower(): m.group(2) or m.group(3) or ""
            for m in _CHALLENGE_PARAM.finditer(rest)
        }
        found[scheme.lower()] = params
    return found


# -- the client --------------------------------------------------------------------------------


@dataclass
class _Response:
    status: int
    reason: str
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else default


class RtspSource:
    """One RTSP session on one camera, opened on construction; see the module docstring.

    ``streams.video[0]`` and ``demux()`` mimic what the recorder uses of a PyAV container.
    Errors are ``IngestError`` (with the status reason) or ``TimeoutError``/``OSError``.
    """

    def __init__(self, url: str, *, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() != "rtsp" or not parts.hostname:
            raise IngestError(FailReason.unreachable, "not an rtsp:// URL")
        self._username = unquote(parts.username) if parts.username is not None else None
        self._password = unquote(parts.password or "")
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
        self._url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        self._timeout_s = timeout_s
        self._cseq = 0
        self._auth: tuple[str, dict[str, str]] | None = None
        self._session = ""
        self._keepalive_s = _KEEPALIVE_MAX_S
        self._buf = bytearray(_BUFFER_BYTES)
        self._view = memoryview(self._buf)
        self._fill = 0
        self.reader: InterleavedReader | None = None  # once demuxing
        try:
            self._sock = socket.create_connection(
                (parts.hostname, parts.port or 554), timeout=timeout_s
            )
        except socket.gaierror as exc:
            raise IngestError(FailReason.unreachable, f"unknown host: {exc}") from exc
        try:
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._start()
        except BaseException:
            self._sock.close()
            raise

    # -- RTSP requests ---------------------------------------------------------------------

    def _request(self, method: str, url: str, headers: dict[str, str] | None = None) -> _Response:
        response = self._send(method, url, headers)
        if response.status == 401 and self._username is not None:
            challenges = " ".join(response.headers.get("www-authenticate", [])).lower()
            if self._auth is None or "stale=true" in challenges:  # (a Digest nonce expired)
                self._auth = self._choose_auth(response)
                response = self._send(method, url, headers)
        if response.status in (401, 403):
            detail = "no credentials in the URL" if self._username is None else "wrong credentials"
            raise IngestError(
                FailReason.unauthorized, f"{method}: {response.status} {response.reason} ({detail})"
            )
        if response.status != 200:
            raise IngestError(
                FailReason.unreachable, f"{method}: {response.status} {response.reason}"
            )
        return response

    def _choose_auth(self, response: _Response) -> tuple[str, dict[str, str]]:
        challenges = _challenges(response.headers.get("www-authenticate", []))
        if "digest" in challenges:
            return "digest", challenges["digest"]
        if "basic" in challenges:
            return "basic", challenges["basic"]
        raise IngestError(FailReason.unauthorized, "the camera asks for an unknown authentication")

    def _authorization(self, method: str, url: str) -> str:
        assert self._auth is not None and self._username is not None
        scheme, params = self._auth
        if scheme == "basic":
            token = base64.b64encode(f"{self._username}:{self._password}".encode()).decode()
            return f"Basic {token}"
        qop = "auth" if "auth" in params.get("qop", "").split(",") else ""
        cnonce = os.urandom(8).hex() if qop else ""
        response = digest_response(
            username=self._username,
            password=self._password,
            realm=params.get("realm", ""),
            nonce=params.get("nonce", ""),
            method=method,
            uri=url,
            qop=qop,
            nc="00000001",
            cnonce=cnonce,
        )
        fields = [
            f'username="{self._username}"',
            f'realm="{params.get("realm", "")}"',
            f'nonce="{params.get("nonce", "")}"',
            f'uri="{url}"',
            f'response="{response}"',
        ]
        if qop:
            fields += [f"qop={qop}", "nc=00000001", f'cnonce="{cnonce}"']
        if "opaque" in params:
            fields.append(f'opaque="{params["opaque"]}"')
        return "Digest " + ", ".join(fields)

    def _write_request(self, method: str, url: str, headers: dict[str, str] | None = None) -> None:
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}", f"User-Agent: {_USER_AGENT}"]
        if self._session:
            lines.append(f"Session: {self._session}")
        if self._auth is not None:
            lines.append(f"Authorization: {self._authorization(method, url)}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def _send(self, method: str, url: str, headers: dict[str, str] | None) -> _Response:
        self._write_request(method, url, headers)
        while True:  # interleaved data may come before the answer (after PLAY)
            response = self._read_message()
            if response is not None and response.header("cseq") == str(self._cseq):
                return response

    def _read_message(self) -> _Response | None:
        """The next RTSP message from the connection (None for an interleaved frame, dropped)."""
        while True:
            if self._fill >= 4 and self._buf[0] == 0x24:
                length = (self._buf[2] << 8) | self._buf[3]
                if self._fill >= 4 + length:
                    self._consume(4 + length)
                    return None
            else:
                end = self._buf.find(b"\r\n\r\n", 0, self._fill)
                if end >= 0:
                    head = bytes(self._buf[:end]).decode("utf-8", "replace")
                    response = self._parse_head(head)
                    length = int(response.header("content-length", "0") or 0)
                    if self._fill >= end + 4 + length:
                        response.body = bytes(self._buf[end + 4 : end + 4 + length])
                        self._consume(end + 4 + length)
                        return response
                elif self._fill > _MAX_HEADER_BYTES:
                    raise IngestError(FailReason.stream_error, "the camera sent no RTSP answer")
            self._receive()

    @staticmethod
    def _parse_head(head: str) -> _Response:
        lines = head.split("\r\n")
        match = re.match(r"RTSP/\d\.\d\s+(\d{3})\s*(.*)", lines[0])
        if match is None:
            raise IngestError(FailReason.unreachable, f"not an RTSP answer: {lines[0][:80]!r}")
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        return _Response(int(match.group(1)), match.group(2), headers, b"")

    def _receive(self) -> None:
        if self._fill == len(self._buf):
            raise IngestError(FailReason.stream_error, "RTSP message too large")
        got = self._sock.recv_into(self._view[self._fill :])
        if got == 0:
            raise IngestError(FailReason.stream_ended, "the camera closed the connection")
        self._fill += got

    def _consume(self, count: int) -> None:
        rest = self._fill - count
        if rest:
            self._buf[:rest] = self._buf[count : self._fill]
        self._fill = rest

    # -- session set-up --------------------------------------------------------------------

    def _start(self) -> None:
        answer = self._request("DESCRIBE", self._url, {"Accept": "application/sdp"})
        base = answer.header("content-base") or answer.header("content-location") or self._url
        if not base.endswith("/"):
            base += "/"
        media = parse_sdp(answer.body.decode("utf-8", "replace"))
        videos = [m for m in media if m.kind == "video"]
        if not videos:
            raise IngestError(FailReason.no_video, "the stream has no video track")
        codecs = {"H264": H264, "H265": H265, "HEVC": H265}
        video = next((m for m in videos if m.encoding in codecs), None)
        if video is None:
            names = ", ".join(m.encoding or f"payload {m.payload_type}" for m in videos)
            raise IngestError(
                FailReason.unsupported_codec, f"video codec {names} is not H.264/H.265"
            )
        self.codec = codecs[video.encoding]
        if self.codec == H264 and video.fmtp.get("packetization-mode", "0") not in ("0", "1"):
            raise IngestError(
                FailReason.unsupported_codec,
                f"H.264 packetization-mode {video.fmtp['packetization-mode']} (interleaved)",
            )
        if self.codec == H265 and video.fmtp.get("sprop-max-don-diff", "0") not in ("", "0"):
            raise IngestError(FailReason.unsupported_codec, "H.265 with decoding order numbers")
        self._payload_type = video.payload_type
        self._param_sets = _parameter_sets(video, self.codec)
        clock_rate = video.clock_rate or 90_000
        control = video.control
        track = self._url if control in ("", "*") else urljoin(base, control)
        setup = self._request("SETUP", track, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        session = setup.header("session")
        if not session:
            raise IngestError(FailReason.unreachable, "SETUP: no session")
        self._session, _, options = session.partition(";")
        timeout = re.search(r"timeout=(\d+)", options)
        if timeout:
            self._keepalive_s = max(1.0, min(_KEEPALIVE_MAX_S, int(timeout.group(1)) / 2))
        channel = re.search(r"interleaved=(\d+)", setup.header("transport"))
        self._channel = int(channel.group(1)) if channel else 0
        self._request("PLAY", self._url if control != "*" else base, {"Range": "npt=0.000-"})
        stream = SimpleNamespace(
            index=0,
            time_base=Fraction(1, clock_rate),
            codec_context=SimpleNamespace(name=self.codec, width=0, height=0, sample_rate=0),
        )
        self.streams = SimpleNamespace(video=[stream], audio=[])

    # -- reading ---------------------------------------------------------------------------

    def demux(self, *streams: Any) -> Iterator[NativePacket]:
        """Access units of the video track until the connection ends (IngestError/OSError)."""
        self.reader = reader = InterleavedReader(
            self.codec, channel=self._channel, payload_type=self._payload_type,
            param_sets=self._param_sets,
        )  # fmt: skip
        next_keepalive = time.monotonic() + self._keepalive_s
        while True:  # (what came with PLAY's answer first, then what arrives)
            pos, packets = reader.parse(self._buf, self._fill)
            if pos:
                self._consume(pos)
            yield from packets
            if reader.reordered:
                raise IngestError(
                    FailReason.stream_error,
                    "the camera sends B-frames (pictures out of order): reading it through FFmpeg",
                    use_ffmpeg=True,
                )
            if time.monotonic() >= next_keepalive:
                # OPTIONS with the session keeps it alive; the reader skips the answer.
                self._write_request("OPTIONS", self._url)
                next_keepalive = time.monotonic() + self._keepalive_s
            self._receive()

    def close(self) -> None:
        try:
            if self._session:
                self._sock.settimeout(1.0)
                self._write_request("TEARDOWN", self._url)
        except OSError:
            pass
        finally:
            self._sock.close()


# -- RTP depacketizing ------------------------------------------------------------------------


def _emit(
    parts: list[bytes | bytearray], ts: int, key: bool, has_params: bool, param_sets: bytes
) -> NativePacket:
    if key and not has_params and param_sets:
        parts.insert(0, param_sets)
    return NativePacket(b"".join(parts), ts, key)


class InterleavedReader:
    """Turns the interleaved RTSP byte stream into access units (RFC 2326 10.12, RFC 3550 RTP,
    RFC 6184 H.264, RFC 7798 H.265). State is kept across calls; a call parses every complete
    frame in the buffer. The per-RTP-packet path is flat on purpose: it runs about 11,000 times
    a second for 30 cameras.
    """

    def __init__(self, codec: str, *, channel: int, payload_type: int, param_sets: bytes) -> None:
        self.h265 = codec == H265
        self.channel = channel
        self.payload_type = payload_type
        self.param_sets = param_sets
        self.bad_packets = 0  # RTP packets that were malformed or of an unsupported kind
        self.damaged_units = 0  # access units dropped (a packet missing or malformed)
        self._parts: list[bytes | bytearray] = []
        self._size = 0
        self._key = self._has_params = self._damaged = self._in_fu = False
        self._au_ts = -1  # 32-bit RTP time of the unit being collected
        self._seq = -1  # next expected sequence number
        self._ext = 0  # the last unit's RTP time, unwrapped
        # A unit earlier than its predecessor: B-frames, whose decoding times RTP does not carry
        # (FFmpeg's parser works them out; this reader does not).
        self.reordered = False
        self._first_ts: int | None = None

    def parse(self, buf: bytearray, fill: int) -> tuple[int, list[NativePacket]]:
        """(bytes consumed, finished access units) for ``buf[:fill]``."""
        out: list[NativePacket] = []
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
                    parts.append(buf[start + hdr + 1 : stop])
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
                    parts.append(buf[at + 2 : at + 2 + length])
                    size += length
                    at += 2 + length
            elif (kind < 48) if h265 else (0 < kind < 24):
                key = key or (16 <= kind <= 23 if h265 else kind == 5)
                has_params = has_params or kind == (33 if h265 else 7)
                parts.append(_START)
                parts.append(buf[start:stop])
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
        self._parts, self._size, self._key, self._has_params = parts, size, key, has_params
        self._damaged, self._in_fu, self._au_ts, self._seq = damaged, in_fu, au_ts, expected
        return pos, out

    def _skip(self, buf: bytearray, pos: int, fill: int) -> int:
        """Where the RTSP message (or the garbage up to the next '$') at ``pos`` ends; -1 if the
        message is not complete yet."""
        if buf.startswith(b"RTSP/", pos, fill) or fill - pos < 5:
            end = buf.find(b"\r\n\r\n", pos, fill)
            if end < 0:
                if fill - pos > _MAX_HEADER_BYTES:
                    raise IngestError(FailReason.stream_error, "garbage on the RTSP connection")
                return -1
            head = bytes(buf[pos:end]).decode("utf-8", "replace").lower()
            length = re.search(r"content-length:\s*(\d+)", head)
            total = end + 4 + (int(length.group(1)) if length else 0)
            return total if total <= fill else -1
        self.bad_packets += 1
        found = buf.find(b"$", pos + 1, fill)
        return found if found >= 0 else fill

    def _finish(
        self, parts: list[bytes | bytearray], ts32: int, key: bool, has_params: bool
    ) -> NativePacket:
        """The access unit, time-stamped from the first unit on (the 32-bit clock unwrapped)."""
        if self._first_ts is None:
            self._first_ts = self._ext = ts32
        else:  # the signed 32-bit step from the last unit
            step = ((ts32 - self._ext + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
            self.reordered = self.reordered or step < 0
            self._ext += step
        return _emit(parts, self._ext - self._first_ts, key, has_params, self.param_sets)
