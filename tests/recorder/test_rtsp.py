"""The native RTSP client: RTP depacketizing (H.264, H.265), and a session against a scripted
camera for what the GStreamer simulator does not do (Digest, odd SDPs, keepalive answers).

The recording tests (test_recording.py, test_crash.py) run the client against the simulator.
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from appliance.cli.main import initialize
from appliance.clock import SystemClock
from appliance.context import AppContext
from appliance.health.counters import day_of, dropped_frames_on
from appliance.media._nal import iter_nal_units
from appliance.settings import Settings
from recorder.indexer import SegmentIndexer
from recorder.rtsp import InterleavedReader, RtspSource, digest_response, parse_sdp
from recorder.source import Packet, StreamKind
from recorder.status import FailReason, IngestError, StatusBoard
from recorder.vaultkey import VaultPublicKey
from recorder.worker import CameraWorker, WorkerDeps
from tests.support.bframe_clips import BframeClip, encode_clip
from tests.support.media import Clip, make_clip
from tests.support.recorder import camera_entry, recorder_config

PT = 96
START = b"\x00\x00\x00\x01"


@pytest.fixture(scope="module")
def h264_units(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "a.h264", "h264")


@pytest.fixture(scope="module")
def hevc_units(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "a.hevc", "hevc")


def _nals(access_unit: bytes) -> list[bytes]:
    return [access_unit[b:e] for b, e in iter_nal_units(access_unit)]


def _payloads(access_unit: bytes, codec: str, mtu: int) -> list[bytes]:
    """RTP payloads for one access unit: parameter sets aggregated, big NAL units fragmented."""
    nals = _nals(access_unit)
    h265 = codec == "hevc"
    out: list[bytes] = []
    small = [n for n in nals if len(n) < 200]
    if len(small) >= 2 and small == nals[: len(small)]:  # aggregate the leading small ones
        header = bytes([48 << 1, 1]) if h265 else bytes([24])
        out.append(header + b"".join(len(n).to_bytes(2, "big") + n for n in small))
        nals = nals[len(small) :]
    for nal in nals:
        if len(nal) <= mtu:
            out.append(nal)
            continue
        hdr = 2 if h265 else 1
        body, first = nal[hdr:], True
        kind = (nal[0] >> 1) & 0x3F if h265 else nal[0] & 0x1F
        while body:
            piece, body = body[:mtu], body[mtu:]
            flags = (0x80 if first else 0) | (0 if body else 0x40)
            if h265:
                head = bytes([(nal[0] & 0x81) | (49 << 1), nal[1], flags | kind])
            else:
                head = bytes([(nal[0] & 0xE0) | 28, flags | kind])
            out.append(head + piece)
            first = False
    return out


def _interleave(
    clip: Clip, codec: str, *, mtu: int = 1200, ts0: int = 1000, seq0: int = 0, step: int = 3600
) -> tuple[bytes, list[int]]:
    """The interleaved byte stream of ``clip`` (RTCP and an RTSP answer mixed in), and the
    sequence numbers' byte offsets."""
    stream = bytearray()
    offsets: list[int] = []
    seq = seq0
    for index, (unit, _key) in enumerate(clip):
        ts = (ts0 + index * step) & 0xFFFFFFFF
        payloads = _payloads(unit, codec, mtu)
        for n, payload in enumerate(payloads):
            marker = 0x80 if n == len(payloads) - 1 else 0
            rtp = struct.pack(">BBHII", 0x80, marker | PT, seq & 0xFFFF, ts, 0x1234) + payload
            offsets.append(len(stream))
            stream += b"$\x00" + len(rtp).to_bytes(2, "big") + rtp
            seq += 1
        if index == 3:
            stream += b"$\x01\x00\x08" + bytes(8)  # an RTCP sender report on channel 1
            stream += b"RTSP/1.0 200 OK\r\nCSeq: 9\r\nContent-Length: 2\r\n\r\nok"
    return bytes(stream), offsets


def _read_all(
    stream: bytes, codec: str, *, chunk: int = 0, param_sets: bytes = b""
) -> tuple[list[Packet], InterleavedReader]:
    """Feed ``stream`` in random pieces (as TCP delivers it) through a reader."""
    reader = InterleavedReader(codec, channel=0, payload_type=PT, param_sets=param_sets)
    buf = bytearray(1 << 20)
    fill, out = 0, []
    rng = random.Random(7)
    pos = 0
    while pos < len(stream):
        take = chunk or rng.randint(1, 9000)
        piece = stream[pos : pos + take]
        pos += len(piece)
        buf[fill : fill + len(piece)] = piece
        fill += len(piece)
        used, packets = reader.parse(buf, fill)
        buf[: fill - used] = buf[used:fill]
        fill -= used
        out += packets
    return out, reader


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_access_units_come_out_as_they_went_in(
    h264_units: Clip, hevc_units: Clip, codec: str
) -> None:
    clip = h264_units if codec == "h264" else hevc_units
    stream, _ = _interleave(clip, codec)
    packets, reader = _read_all(stream, codec)
    assert [p.data for p in packets] == [START + START.join(_nals(u)) for u, _ in clip]
    assert [p.key_frame for p in packets] == [k for _, k in clip]
    assert [p.pts for p in packets] == [i * 3600 for i in range(len(clip))]
    assert all(p.dts == p.pts and p.kind is StreamKind.video for p in packets)
    assert all(type(p.data) is bytes for p in packets)
    assert reader.bad_packets == 0 and reader.damaged_units == 0


def test_a_lost_packet_drops_only_its_access_unit(h264_units: Clip) -> None:
    stream, offsets = _interleave(h264_units, "h264")
    # Remove the 40th RTP packet (inside some access unit).
    at = offsets[40]
    length = int.from_bytes(stream[at + 2 : at + 4], "big")
    damaged = stream[:at] + stream[at + 4 + length :]
    packets, reader = _read_all(damaged, "h264")
    assert reader.damaged_units == 1
    assert len(packets) == len(h264_units) - 1
    whole = [START + START.join(_nals(u)) for u, _ in h264_units]
    assert all(p.data in whole for p in packets)


def test_a_missing_marker_still_ends_the_unit_at_the_next_timestamp(h264_units: Clip) -> None:
    stream = bytearray(_interleave(h264_units[:3], "h264")[0])
    # Clear every marker bit: units end when the timestamp changes (the last one stays open).
    pos = 0
    while pos < len(stream):
        length = int.from_bytes(stream[pos + 2 : pos + 4], "big")
        if stream[pos + 1] == 0:
            stream[pos + 5] &= 0x7F
        pos += 4 + length
    packets, _ = _read_all(bytes(stream), "h264")
    assert [p.pts for p in packets] == [0, 3600]


def test_the_sdp_parameter_sets_go_before_a_key_frame_without_its_own(h264_units: Clip) -> None:
    bare = []
    for unit, key in h264_units[:30]:
        nals = [n for n in _nals(unit) if n[0] & 0x1F not in (7, 8)]
        bare.append((START + START.join(nals), key))
    sps_pps = [n for n in _nals(h264_units[0][0]) if n[0] & 0x1F in (7, 8)]
    param_sets = b"".join(START + n for n in sps_pps)
    packets, _ = _read_all(_interleave(bare, "h264")[0], "h264", param_sets=param_sets)
    for packet, (unit, key) in zip(packets, bare, strict=True):
        assert packet.data == (param_sets + unit if key else unit)


def test_the_rtp_clock_wraps_without_a_jump(h264_units: Clip) -> None:
    stream, _ = _interleave(h264_units[:20], "h264", ts0=0xFFFFFFFF - 5 * 3600, seq0=0xFFF0)
    packets, reader = _read_all(stream, "h264", chunk=1000)
    assert [p.pts for p in packets] == [i * 3600 for i in range(20)]
    assert reader.damaged_units == 0  # the sequence number wrapped too


def test_garbage_and_foreign_packets_are_counted_not_fatal(h264_units: Clip) -> None:
    stream, _ = _interleave(h264_units[:10], "h264")
    wrong_pt = struct.pack(">BBHII", 0x80, 0x80 | 8, 1, 1, 1) + b"x" * 20
    noise = b"$\x00" + len(wrong_pt).to_bytes(2, "big") + wrong_pt
    reader = InterleavedReader("h264", channel=0, payload_type=PT, param_sets=b"")
    buf = bytearray(noise + b"\x17garbage" + stream)
    _, packets = reader.parse(buf, len(buf))
    assert len(packets) == 10 and reader.bad_packets >= 2


def test_parse_sdp_and_digest() -> None:
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=cam\r\nt=0 0\r\n"
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000/1\r\na=control:track2\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0IAKeKQFAe2AtwEBAaQeJEV,aM48gA==\r\n"
        "a=control:track1\r\n"
    )
    audio, video = parse_sdp(sdp)
    assert (audio.kind, audio.encoding, audio.clock_rate) == ("audio", "MPEG4-GENERIC", 16000)
    assert (video.kind, video.encoding, video.control) == ("video", "H264", "track1")
    assert video.fmtp["packetization-mode"] == "1"
    # RFC 2617, section 3.5.
    response = digest_response(
        username="Mufasa", password="Circle Of Life", realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", method="GET", uri="/dir/index.html",
        qop="auth", nc="00000001", cnonce="0a4f113b",
    )  # fmt: skip
    assert response == "6629fae49393a05397450978507c4ef1"


# -- a scripted camera ---------------------------------------------------------------------


class _Camera:
    """A one-connection RTSP server that answers from a script and records what it was sent."""

    def __init__(
        self,
        sdp: str,
        *,
        digest: tuple[str, str] | None = None,
        data: bytes = b"",
        stale_at: str = "",
        hang_up: bool = False,
    ):
        self.sdp, self.digest, self.data = sdp, digest, data
        self.nonce, self.stale_at = "abc123", stale_at  # expire the nonce at this method once
        self.hang_up = hang_up  # close the connection once PLAY's data is sent
        self.requests: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    try:
                        got = conn.recv(65536)
                    except OSError:  # the client went away
                        return
                    if not got:
                        return
                    pending += got
                head, _, pending = pending.partition(b"\r\n\r\n")
                request = head.decode()
                self.requests.append(request)
                try:
                    conn.sendall(self._answer(request))
                except OSError:  # the client went away (after TEARDOWN)
                    return
                if self.hang_up and request.startswith("PLAY"):
                    return

    def _answer(self, request: str) -> bytes:
        method, url = request.split(" ")[:2]
        cseq = re.search(r"CSeq: (\d+)", request)
        seq = cseq.group(1) if cseq else "0"
        stale = ""
        if method == self.stale_at:
            self.stale_at, self.nonce, stale = "", "def456", ", stale=true"
        if self.digest is not None and (stale or not self._authorized(request, method, url)):
            return (
                f"RTSP/1.0 401 Unauthorized\r\nCSeq: {seq}\r\nWWW-Authenticate: Digest "
                f'realm="cam", nonce="{self.nonce}", qop="auth"{stale}\r\nWWW-Authenticate: '
                f'Basic realm="cam"\r\n\r\n'
            ).encode()
        extra, body = "", b""
        if method == "DESCRIBE":
            body = self.sdp.encode()
            extra = f"Content-Base: {url}/\r\nContent-Type: application/sdp\r\n"
        elif method == "SETUP":
            extra = "Session: 42;timeout=2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=4-5\r\n"
        answer = f"RTSP/1.0 200 OK\r\nCSeq: {seq}\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
        tail = self.data if method == "PLAY" else b""
        return answer.encode() + body + tail

    def _authorized(self, request: str, method: str, url: str) -> bool:
        assert self.digest is not None
        match = re.search(r'Authorization: Digest .*response="(\w+)".*cnonce="(\w+)"', request)
        if match is None:
            return False
        want = digest_response(
            username=self.digest[0], password=self.digest[1], realm="cam", nonce=self.nonce,
            method=method, uri=url, qop="auth", nc="00000001", cnonce=match.group(2),
        )  # fmt: skip
        return match.group(1) == want

    def close(self) -> None:
        self.listener.close()


_SDP_H264 = (
    "v=0\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1\r\na=control:trackID=1\r\n"
)


def _channel4(stream: bytes) -> bytes:
    out, pos = bytearray(), 0
    while pos < len(stream):
        if stream[pos] != 0x24:
            end = stream.index(b"\r\n\r\n", pos) + 4 + 2
            out += stream[pos:end]
            pos = end
            continue
        length = int.from_bytes(stream[pos + 2 : pos + 4], "big")
        channel = 4 if stream[pos + 1] == 0 else 5
        out += bytes([0x24, channel]) + stream[pos + 2 : pos + 4 + length]
        pos += 4 + length
    return bytes(out)


@pytest.fixture
def camera() -> Iterator[Callable[..., _Camera]]:
    made: list[_Camera] = []

    def make(*args: object, **kwargs: object) -> _Camera:
        made.append(_Camera(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for cam in made:
        cam.close()


@pytest.mark.parametrize("stale_at", ["", "SETUP"])
def test_digest_session_on_the_negotiated_channel(
    camera: Callable[..., _Camera], h264_units: Clip, stale_at: str
) -> None:
    """Digest on a 401 (and again when the camera says the nonce went stale)."""
    stream, _ = _interleave(h264_units[:25], "h264")
    cam = camera(_SDP_H264, digest=("admin", "s3cr:et"), data=_channel4(stream), stale_at=stale_at)
    source = RtspSource(f"rtsp://admin:s3cr%3Aet@127.0.0.1:{cam.port}/live", timeout_s=2)
    source.open()
    packets = []
    try:
        for packet in source.packets(audio=False):
            packets.append(packet)
            if len(packets) == 24:  # the last unit has no successor to close it early
                break
    finally:
        source.close()
    assert [p.data for p in packets] == [START + START.join(_nals(u)) for u, _ in h264_units[:24]]
    methods = [r.split(" ")[0] for r in cam.requests]
    setups = ["SETUP", "SETUP"] if stale_at else ["SETUP"]
    assert methods[: 3 + len(setups)] == ["DESCRIBE", "DESCRIBE", *setups, "PLAY"]
    assert "Authorization: Digest" in cam.requests[1] and "s3cr" not in cam.requests[1]
    if stale_at:
        assert 'nonce="def456"' in cam.requests[3]
    assert f"127.0.0.1:{cam.port}/live/trackID=1" in cam.requests[2]
    assert "interleaved=0-1" in cam.requests[2] and "Session: 42" in cam.requests[2 + len(setups)]
    assert source.video_track().codec == "h264" and source.audio_track() is None


def test_paced_reads_deliver_everything_and_a_silent_camera_still_times_out(
    camera: Callable[..., _Camera], h264_units: Clip
) -> None:
    """Once the stream plays, the socket wakes the reader only for 32 KiB or after 100 ms
    (recorder.rtsp.client, issue 16): what a camera sent before going quiet (less than that)
    still comes out, and a camera that stays connected but silent ends the session after the
    timeout, as an unpaced read did."""
    stream, _ = _interleave(h264_units[:25], "h264")
    cam = camera(_SDP_H264, data=_channel4(stream))
    source = RtspSource(f"rtsp://127.0.0.1:{cam.port}/x", timeout_s=1)
    source.open()
    packets: list[Packet] = []
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError, match="sent nothing for 1 s"):
            for packet in source.packets(audio=False):
                packets.append(packet)
        assert source._sock is not None
        assert source._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) == 32 << 10
    finally:
        source.close()
    assert 1.0 <= time.monotonic() - started < 5.0
    # Every unit came out whole, in order (the last one too: its marker bit closes it).
    assert [p.data for p in packets] == [START + START.join(_nals(u)) for u, _ in h264_units[:25]]


@pytest.mark.parametrize(
    ("sdp", "reason", "detail"),
    [
        ("v=0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", FailReason.no_video, "no video"),
        (
            "v=0\r\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\n",
            FailReason.unsupported_codec,
            "JPEG",
        ),
        (
            "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
            "a=fmtp:96 packetization-mode=2\r\n",
            FailReason.unsupported_codec,
            "packetization-mode 2",
        ),
    ],
)
def test_what_cannot_be_recorded_is_named(
    camera: Callable[..., _Camera], sdp: str, reason: FailReason, detail: str
) -> None:
    cam = camera(sdp)
    with pytest.raises(IngestError, match=detail) as caught:
        RtspSource(f"rtsp://127.0.0.1:{cam.port}/x", timeout_s=2).open()
    assert caught.value.reason is reason


def test_no_credentials_for_a_locked_camera_is_unauthorized(
    camera: Callable[..., _Camera],
) -> None:
    cam = camera(_SDP_H264, digest=("admin", "x"))
    with pytest.raises(IngestError, match="no credentials") as caught:
        RtspSource(f"rtsp://127.0.0.1:{cam.port}/x", timeout_s=2).open()
    assert caught.value.reason is FailReason.unauthorized


def test_keepalive_is_sent_with_the_session(
    camera: Callable[..., _Camera], h264_units: Clip
) -> None:
    """SETUP said timeout=2: an OPTIONS with the session goes out within a second, and its
    answer, arriving between RTP frames, is skipped."""
    stream, _ = _interleave(h264_units, "h264")
    cam = camera(_SDP_H264, data=_channel4(stream))
    source = RtspSource(f"rtsp://127.0.0.1:{cam.port}/x", timeout_s=2)
    source.open()
    assert source._keepalive_s == 1.0
    source._keepalive_s = 0.0  # every read: the test cannot wait
    count = 0
    try:
        for _ in source.packets(audio=False):
            count += 1
            if count == 50:
                break
    finally:
        source.close()
    deadline = time.monotonic() + 5  # the scripted camera reads on its own thread
    while time.monotonic() < deadline and not any(r.startswith("OPTIONS") for r in cam.requests):
        time.sleep(0.01)
    assert any(r.startswith("OPTIONS") and "Session: 42" in r for r in cam.requests)
    assert count == 50


def _bframe_stream(clip: BframeClip) -> bytes:
    """The interleaved stream of a clip in decoding order, RTP times = presentation times."""
    stream, seq = bytearray(), 0
    for unit, pts in zip(clip.units, clip.pts, strict=True):
        piece, _ = _interleave([(unit, False)], "h264", ts0=1000 + pts, seq0=seq)
        stream += piece
        seq += len(_payloads(unit, "h264", 1200))
    return bytes(stream)


def test_b_frames_are_recorded_natively(camera: Callable[..., _Camera], tmp_path: Path) -> None:
    """RTP carries presentation times only; the decoding times come from the bitstream
    (recorder.rtsp.dts), so a camera with B-frames stays on the native client, and its
    samples keep their composition offsets (PTS - DTS)."""
    clip = encode_clip(tmp_path, "h264", params="bframes=3:b-pyramid=normal", seconds=3)
    cam = camera(_SDP_H264, data=_channel4(_bframe_stream(clip)), hang_up=True)
    with _native_worker(tmp_path, cam.port) as worker:
        assert worker.native
        outcome = worker._session()
        assert outcome.reason is FailReason.stream_ended and outcome.recorded, outcome
        assert worker.native and not worker.needs_ffmpeg and worker.reorder_depth == 0
        assert worker.counters.segments >= 1 and worker.counters.timestamp_jumps == 0


def test_a_reorder_its_sps_does_not_declare_reconnects_with_the_depth_seen(
    camera: Callable[..., _Camera], h264_units: Clip, tmp_path: Path
) -> None:
    """A camera whose pictures come out of order although its SPS declares none: the session
    ends naming the depth seen, and the next native session uses it (never FFmpeg)."""
    units = h264_units[:12]
    order = [0, 2, 1, *range(3, len(units))]  # one picture before its predecessor
    stream, seq = bytearray(), 0
    for index in order:
        piece, _ = _interleave([units[index]], "h264", ts0=1000 + index * 3600, seq0=seq)
        stream += piece
        seq += len(_payloads(units[index][0], "h264", 1200))
    reader = InterleavedReader("h264", channel=0, payload_type=PT, param_sets=b"")
    _, packets = reader.parse(bytearray(stream), len(stream))
    assert [p.pts for p in packets][:3] == [0, 7200, 3600]

    cam = camera(_SDP_H264, data=_channel4(bytes(stream)), hang_up=True)
    with _native_worker(tmp_path, cam.port) as worker:
        outcome = worker._session()
        assert "reorders 1 pictures" in outcome.detail and worker.reorder_depth == 1
        assert worker.native and not worker.needs_ffmpeg
    # The next session (a one-connection camera: a second one) reads it with that depth.
    again = camera(_SDP_H264, data=_channel4(bytes(stream)), hang_up=True)
    source = RtspSource(f"rtsp://127.0.0.1:{again.port}/x", timeout_s=2, reorder_depth=1)
    source.open()
    got: list[Packet] = []
    with contextlib.suppress(IngestError):  # the end of the scripted stream
        got.extend(source.packets(audio=False))
    source.close()
    assert [p.pts for p in got] == [i * 3600 for i in order]
    dts = [p.dts for p in got]
    assert dts == [-3600, 0, 3600, *[i * 3600 for i in range(2, len(order) - 1)]]


@contextlib.contextmanager
def _native_worker(tmp_path: Path, port: int) -> Iterator[CameraWorker]:
    data = recorder_config(
        tmp_path, [camera_entry("cam01", f"rtsp://127.0.0.1:{port}/x")], ingest="native"
    )
    settings = Settings(**data)
    initialize(settings, SystemClock(), insecure_no_passphrase=True)
    ctx = AppContext.open(settings, SystemClock())
    try:
        deps = WorkerDeps(
            db=ctx.db, clock=ctx.clock, config=ctx.settings.recorder,
            segments_dir=ctx.settings.segments_dir,
            vault_key=VaultPublicKey(ctx.settings.storage.key_dir),
            indexer=SegmentIndexer(ctx.db, ctx.clock), status=StatusBoard(ctx.db, ctx.clock),
        )  # fmt: skip
        yield CameraWorker(ctx.settings.cameras[0], deps, audio_allowed=False)
    finally:
        ctx.close()


def test_lost_packets_are_counted_per_camera(
    camera: Callable[..., _Camera], h264_units: Clip, tmp_path: Path
) -> None:
    stream, offsets = _interleave(h264_units, "h264")
    at = offsets[40]
    length = int.from_bytes(stream[at + 2 : at + 4], "big")
    cam = camera(_SDP_H264, data=_channel4(stream[:at] + stream[at + 4 + length :]), hang_up=True)
    with _native_worker(tmp_path, cam.port) as worker:
        outcome = worker._session()
        # ... kept for the health page too: today's counter of the camera (issue 15).
        with worker.deps.db.session() as db:
            today = day_of(worker.deps.clock.now_ms(), worker.deps.zone)
            assert dropped_frames_on(db, today) == {worker.camera.id: 1}
    assert outcome.reason is FailReason.stream_ended and outcome.recorded
    assert worker.counters.damaged_frames == 1 and worker.counters.segments >= 1
