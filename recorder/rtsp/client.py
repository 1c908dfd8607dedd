"""A native RTSP client for recording: RTSP over TCP (interleaved RTP), H.264 and H.265 video.

Why not FFmpeg's RTSP demuxer (through PyAV) for every camera: it reads RTP over TCP with three
``recv`` calls per RTP packet, each behind its own ``poll`` (about 70,000 system calls a second
for 30 cameras at 4 Mbit/s); that alone cost more CPU than 30 ``ffmpeg -c copy`` processes
leave for encryption (bench/ingest.py, design/storage.md). This client reads whatever the socket
holds into one buffer per camera (one ``recv`` per burst) and depacketizes in a few slice
operations per RTP packet (``recorder.rtsp.depacketizer``): the same footage at under half the
CPU of the PyAV demux floor.

Scope, on purpose: what recording video needs and nothing else. RTSP 1.0 over TCP, Basic and
Digest (MD5) authentication (``recorder.rtsp.auth``), one video track (the first H.264 or H.265
``m=video``, ``recorder.rtsp.sdp``). Audio tracks are never set up (a camera whose group stores
audio is read through FFmpeg, ``recorder.ffmpeg_source``). ``RtspSource`` is a
``recorder.source.PacketSource``, so the recording session is the same code for both.

Access units are Annex-B (start codes), as FFmpeg hands them out; the SDP's parameter sets are
put in front of a key frame that does not carry its own, so every segment decodes on its own.
RTP carries presentation times only: decoding times of streams with B-frames are derived from
the bitstream (``recorder.rtsp.dts``), so those cameras stay on this client too.

Paced reading: once the stream plays, the socket wakes its thread only when ``_PACED_BYTES`` are
waiting (``SO_RCVLOWAT``; Linux grows the receive buffer to hold them) or ``_PACED_WAIT_S`` has
passed, whichever comes first. Without it a 4 Mbit/s camera woke its thread about 40 times a
second for 10 KB each (a thread switch, two system calls and a GIL hand-over each time, for 30
threads on 2 cores); paced, about 15 times for 32 KB. Measured: about a fifth less recorder CPU
(bench/RESULTS.md, issue 16). The price is at most ``_PACED_WAIT_S`` of added latency on live
view; recording is unaffected. A camera that sends nothing for ``timeout_s`` still ends the
session, as before.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from appliance.errors import MediaError
from recorder.rtsp.auth import Challenge, authorization, choose_challenge
from recorder.rtsp.depacketizer import MAX_HEADER_BYTES, InterleavedReader
from recorder.rtsp.dts import DtsExtractor
from recorder.rtsp.sdp import choose_video, parameter_sets, parse_sdp
from recorder.source import AudioTrack, Packet, VideoTrack
from recorder.status import FailReason, IngestError

__all__ = ["RtspSource"]

_BUFFER_BYTES = 1 << 20
_PACED_BYTES = 32 << 10  # wake the reading thread once this much is waiting...
_PACED_WAIT_S = 0.1  # ...or after this long, whichever comes first (module docstring)
_KEEPALIVE_MAX_S = 25.0
_USER_AGENT = "clinic-nvr"


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
    """One RTSP session on one camera, a ``PacketSource``; see the module docstring.

    Errors are ``IngestError`` (with the status reason) or ``TimeoutError``/``OSError``.
    """

    def __init__(self, url: str, *, timeout_s: float, reorder_depth: int = 0) -> None:
        self._parts = parts = urlsplit(url)
        self._username = unquote(parts.username) if parts.username is not None else None
        self._password = unquote(parts.password or "")
        host = parts.hostname or ""
        netloc = host if ":" not in host else f"[{host}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
        self._url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        self._timeout_s = timeout_s
        self._reorder_depth = reorder_depth  # at least this, whatever the SPS says
        self.dts: DtsExtractor | None = None  # once reading packets
        self._cseq = 0
        self._auth: Challenge | None = None
        self._session = ""
        self._keepalive_s = _KEEPALIVE_MAX_S
        self._buf = bytearray(_BUFFER_BYTES)
        self._view = memoryview(self._buf)
        self._fill = 0
        self._paced = False  # reading with SO_RCVLOWAT (once the stream plays)
        self._last_data = 0.0  # time.monotonic() of the last bytes received, when paced
        self.reader: InterleavedReader | None = None  # once reading packets
        self._sock: socket.socket | None = None
        self._video: VideoTrack | None = None

    def open(self) -> None:
        """Connect, DESCRIBE, SETUP the video track and PLAY (see the module docstring)."""
        parts = self._parts
        if parts.scheme.lower() != "rtsp" or not parts.hostname:
            raise IngestError(FailReason.unreachable, "not an rtsp:// URL")
        try:
            self._sock = socket.create_connection(
                (parts.hostname, parts.port or 554), timeout=self._timeout_s
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

    def _choose_auth(self, response: _Response) -> Challenge:
        return choose_challenge(response.headers.get("www-authenticate", []))

    def _authorization(self, method: str, url: str) -> str:
        assert self._auth is not None and self._username is not None
        return authorization(
            self._auth, username=self._username, password=self._password, method=method, url=url
        )

    def _write_request(self, method: str, url: str, headers: dict[str, str] | None = None) -> None:
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}", f"User-Agent: {_USER_AGENT}"]
        if self._session:
            lines.append(f"Session: {self._session}")
        if self._auth is not None:
            lines.append(f"Authorization: {self._authorization(method, url)}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        assert self._sock is not None
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
                elif self._fill > MAX_HEADER_BYTES:
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
        sock = self._sock
        assert sock is not None
        if not self._paced:
            got = sock.recv_into(self._view[self._fill :])
        else:
            try:
                got = sock.recv_into(self._view[self._fill :])
            except TimeoutError:
                # Fewer than _PACED_BYTES came within _PACED_WAIT_S: take what there is (a
                # non-blocking read ignores the low-water mark), if anything.
                sock.setblocking(False)
                try:
                    got = sock.recv_into(self._view[self._fill :])
                except BlockingIOError:
                    if time.monotonic() - self._last_data > self._timeout_s:
                        raise TimeoutError(
                            f"the camera sent nothing for {self._timeout_s:g} s"
                        ) from None
                    return
                finally:
                    sock.settimeout(_PACED_WAIT_S)
            self._last_data = time.monotonic()
        if got == 0:
            raise IngestError(FailReason.stream_ended, "the camera closed the connection")
        self._fill += got

    def _pace(self) -> None:
        """Read in batches from now on (module docstring); plain reads where the system has
        no low-water mark for TCP."""
        assert self._sock is not None
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, _PACED_BYTES)
        except (OSError, AttributeError):
            return
        self._sock.settimeout(_PACED_WAIT_S)
        self._paced = True
        self._last_data = time.monotonic()

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
        video, self._codec = choose_video(media)
        self._payload_type = video.payload_type
        self._param_sets = parameter_sets(video, self._codec)
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
        self._clock_rate = clock_rate
        self._video = VideoTrack(self._codec, Fraction(1, clock_rate))

    # -- reading ---------------------------------------------------------------------------

    def video_track(self) -> VideoTrack:
        assert self._video is not None, "open() first"
        return self._video

    def audio_track(self) -> AudioTrack | None:
        return None  # audio is never set up (see the module docstring)

    def fallback_init(self) -> bytes:
        raise MediaError("a key frame without parameter sets, and none in the SDP")

    @property
    def dropped_frames(self) -> int:
        return self.reader.damaged_units if self.reader is not None else 0

    @property
    def bad_packets(self) -> int:
        return self.reader.bad_packets if self.reader is not None else 0

    def packets(self, *, audio: bool = False) -> Iterator[Packet]:
        """Access units of the video track until the connection ends (IngestError/OSError);
        ``audio`` is ignored (never set up)."""
        self.reader = reader = InterleavedReader(
            self._codec, channel=self._channel, payload_type=self._payload_type,
            param_sets=self._param_sets,
        )  # fmt: skip
        self.dts = extractor = DtsExtractor(
            self._codec, self._param_sets, step=max(1, self._clock_rate // 25),
            depth_hint=self._reorder_depth,
        )  # fmt: skip
        decoding_time = extractor.dts
        self._pace()
        next_keepalive = time.monotonic() + self._keepalive_s
        while True:  # (what came with PLAY's answer first, then what arrives)
            pos, packets = reader.parse(self._buf, self._fill)
            if pos:
                self._consume(pos)
            for packet in packets:
                assert packet.pts is not None
                dts = decoding_time(packet.data, packet.pts, packet.key_frame)
                if dts is not None:
                    packet.dts = dts
                    yield packet
            if time.monotonic() >= next_keepalive:
                # OPTIONS with the session keeps it alive; the reader skips the answer.
                self._write_request("OPTIONS", self._url)
                next_keepalive = time.monotonic() + self._keepalive_s
            self._receive()

    def close(self) -> None:
        if self._sock is None:
            return
        try:
            if self._session:
                self._sock.settimeout(1.0)
                self._write_request("TEARDOWN", self._url)
        except OSError:
            pass
        finally:
            self._sock.close()
