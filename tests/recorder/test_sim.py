"""The camera simulator: a real GStreamer RTSP server, read back with PyAV as the recorder will."""

from __future__ import annotations

import io
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import av.error
import pytest

from recorder.sim import CameraSimulator, SimCamera, ensure_clip, load_clip
from recorder.sim._clips import ClipError, pts_offsets

FPS = 25
GOP_S = 1.0
# Shorter than the 3 s read below, so every read crosses at least one loop point.
CLIP_S = 2
TICKS_PER_FRAME = 90_000 // FPS  # RTP video clock is 90 kHz
OPEN_TIMEOUT_S = (10.0, 5.0)  # (open, per read)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CameraSimulator]:
    cameras = [
        SimCamera("cam1"),
        SimCamera("cam2", codec="h265"),
        SimCamera("cam3", audio=True),
        SimCamera("cam4", username="viewer", password="s3cret pw"),
        SimCamera("cam5"),
        SimCamera("cam6", bframes=3),
        SimCamera("cam7", codec="h265", bframes=3),
    ]
    with CameraSimulator(
        cameras,
        width=320,
        height=240,
        bitrate_kbps=400,
        fps=FPS,
        gop_s=GOP_S,
        clip_duration_s=CLIP_S,
        cache_dir=tmp_path_factory.mktemp("clips"),
    ) as simulator:
        yield simulator


@dataclass
class Capture:
    codecs: dict[str, str]
    elapsed_s: float = 0.0
    dts: dict[str, list[int]] = field(default_factory=dict)
    keys: list[int] = field(default_factory=list)


def _open(url: str) -> av.container.InputContainer:
    return av.open(url, options={"rtsp_transport": "tcp"}, timeout=OPEN_TIMEOUT_S)


def capture(url: str, seconds: float) -> Capture:
    """Demux (never decode) for ``seconds`` of wall time after the connection is open."""
    started = time.monotonic()
    container = _open(url)
    try:
        cap = Capture(codecs={s.type: s.codec_context.name for s in container.streams})
        deadline = time.monotonic() + seconds
        for packet in container.demux():
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            kind = packet.stream.type
            cap.dts.setdefault(kind, []).append(packet.dts)
            if kind == "video" and packet.is_keyframe:
                cap.keys.append(packet.dts)
            if time.monotonic() >= deadline:
                break
        cap.elapsed_s = time.monotonic() - started
        return cap
    finally:
        container.close()


def _ends_within(packets: Iterator[av.Packet[Any]], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if next(packets).dts is None:  # PyAV's flush packets: end of stream
                return True
    except (StopIteration, av.error.FFmpegError, OSError):
        return True
    return False


def test_h264_camera_is_real_time_with_gop_key_frames_and_continuous_dts(
    sim: CameraSimulator,
) -> None:
    cap = capture(sim.url("cam1"), 3.0)

    assert cap.codecs == {"video": "h264"}
    dts = cap.dts["video"]
    steps = {b - a for a, b in itertools.pairwise(dts)}
    # One frame apart every time, across the loop points too: strictly increasing, no gap.
    assert steps == {TICKS_PER_FRAME}, steps
    key_steps = {b - a for a, b in itertools.pairwise(cap.keys)}
    assert len(cap.keys) >= 2
    assert key_steps == {round(GOP_S * FPS) * TICKS_PER_FRAME}, key_steps
    # Paced in real time (not as fast as the server can send): the packets received since the
    # connection began cover about as much stream time as wall time went by.
    expected = FPS * cap.elapsed_s
    assert 0.8 * expected <= len(dts) <= 1.1 * expected + 3, (len(dts), cap.elapsed_s)


def test_h265_camera_demuxes_as_hevc(sim: CameraSimulator) -> None:
    cap = capture(sim.url("cam2"), 1.5)

    assert cap.codecs == {"video": "hevc"}
    dts = cap.dts["video"]
    assert len(dts) >= FPS
    assert all(b > a for a, b in itertools.pairwise(dts))
    assert cap.keys


@pytest.mark.parametrize(("cam", "codec"), [("cam6", "h264"), ("cam7", "hevc")])
def test_b_frame_cameras_send_pictures_in_decoding_order_with_presentation_times(
    sim: CameraSimulator, cam: str, codec: str
) -> None:
    """GStreamer's payloaders carry a B-frame stream as it is: pictures in decoding order, each
    RTP time stamp its presentation time (from the clip's manifest), which FFmpeg reads and
    decodes; sorted, the presentation times are one frame apart, across loop points too."""
    container = _open(sim.url(cam))
    try:
        assert container.streams.video[0].codec_context.name == codec
        pts: list[int] = []
        decoded = 0
        for packet in container.demux(video=0):
            if packet.pts is None:
                continue
            pts.append(packet.pts)
            decoded += len(packet.decode())
            if len(pts) >= 3 * CLIP_S * FPS // 2:
                break
    finally:
        container.close()
    assert pts != sorted(pts)  # reordered: B-frames
    steps = {b - a for a, b in itertools.pairwise(sorted(pts)[: len(pts) - 8])}
    assert steps == {TICKS_PER_FRAME}, steps
    assert decoded >= len(pts) - round(GOP_S * FPS) - 8  # (joined mid-GOP: up to one lost)


def test_audio_camera_has_an_aac_stream(sim: CameraSimulator) -> None:
    cap = capture(sim.url("cam3"), 2.5)

    assert cap.codecs == {"video": "h264", "audio": "aac"}
    audio = cap.dts["audio"]
    assert len(audio) >= 50
    assert all(b > a for a, b in itertools.pairwise(audio))


def test_password_camera_refuses_anonymous_and_accepts_credentials(sim: CameraSimulator) -> None:
    anonymous = sim.url("cam4", credentials=False)
    assert "@" not in anonymous
    with pytest.raises(av.error.HTTPUnauthorizedError, match="401"):
        _open(anonymous)
    with pytest.raises(av.error.HTTPUnauthorizedError, match="401 Unauthorized"):
        _open(anonymous.replace("rtsp://", "rtsp://viewer:wrong@"))

    url = sim.url("cam4")
    assert url.startswith("rtsp://viewer:s3cret%20pw@")
    cap = capture(url, 1.0)
    assert cap.codecs == {"video": "h264"}
    assert cap.dts["video"]


def test_stop_camera_is_an_outage_and_start_camera_ends_it(sim: CameraSimulator) -> None:
    container = _open(sim.url("cam5"))
    try:
        packets = container.demux()
        for _ in range(5):
            next(packets)
        sim.stop_camera("cam5")
        # The connected client is dropped: its stream ends (or errors) promptly.
        assert _ends_within(packets, 5.0), "client still receiving after stop_camera"
    finally:
        container.close()

    with pytest.raises(av.error.HTTPNotFoundError, match="404 Not Found"):
        _open(sim.url("cam5"))

    sim.start_camera("cam5")
    cap = capture(sim.url("cam5"), 1.0)
    assert cap.codecs == {"video": "h264"}
    assert len(cap.dts["video"]) >= FPS // 2

    with pytest.raises(KeyError):
        sim.stop_camera("nope")


def test_ensure_clip_is_cached_and_cut_into_whole_gops(tmp_path: Path) -> None:
    path = ensure_clip(tmp_path, "h264", 160, 120, 200, fps=FPS, gop_s=GOP_S, duration_s=CLIP_S)
    manifest_mtime = (path / "manifest.json").stat().st_mtime_ns
    assert ensure_clip(
        tmp_path, "h264", 160, 120, 200, fps=FPS, gop_s=GOP_S, duration_s=CLIP_S
    ) == (path)
    assert (path / "manifest.json").stat().st_mtime_ns == manifest_mtime
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind

    clip = load_clip(path)
    assert (clip.frames, clip.gop_frames, clip.chunks) == (FPS * CLIP_S, FPS, CLIP_S)
    for chunk in clip.video_files():
        # Each file is one GOP that opens with a key frame, so the files loop seamlessly.
        container = av.open(io.BytesIO(chunk.read_bytes()), format="h264")
        with container:
            assert isinstance(container, av.container.InputContainer)
            flags = [p.is_keyframe for p in container.demux() if p.size]
        assert len(flags) == clip.gop_frames
        assert flags[0]
        assert not any(flags[1:])

    with pytest.raises(ValueError, match="whole number of GOPs"):
        ensure_clip(tmp_path, "h264", 160, 120, 200, fps=FPS, gop_s=1.5, duration_s=CLIP_S)


def test_pts_offsets_of_a_b_frame_clip() -> None:
    # I0 P3 B1 B2 in decoding order at 25 fps (ms): P3 is sent 2 frames ahead of its turn.
    assert pts_offsets([0, 120, 40, 80, 240, 160, 200], 25) == (1, 3, 0, 0, 3, 0, 0)
    assert pts_offsets([0, 40, 80], 25) == (0, 0, 0)
    with pytest.raises(ClipError, match="one per frame"):
        pts_offsets([0, 40, 40], 25)


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    code = "import sys; from recorder.sim import main; sys.exit(main(sys.argv[1:]))"
    args = ["--cameras", "2", "--port", "0", "--width", "160", "--height", "120"]
    args += ["--bitrate-kbps", "200", "--h265-every", "2", "--cache-dir", str(tmp_path)]
    args += ["--bframes", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert proc.stdout is not None
        urls = dict(proc.stdout.readline().split() for _ in range(2))
        assert set(urls) == {"cam1", "cam2"}
        assert capture(urls["cam2"], 0.5).codecs == {"video": "hevc"}
        clips = [load_clip(p.parent) for p in tmp_path.rglob("manifest.json")]
        assert {(c.codec, c.bframes) for c in clips} == {("h264", 2), ("h265", 2)}
        assert all(c.pts_offsets and len(c.pts_offsets) == c.frames for c in clips)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
