"""Recorder test set-ups and checks: simulated cameras, recorder configurations, and what a
recording must hold (every served frame, in order, and no plaintext on disk)."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import av
import pytest
from sqlmodel import col, select

from appliance.context import AppContext
from appliance.media import PrivateKeyFileOpener, iter_packets
from appliance.media._nal import iter_nal_units
from appliance.models.media import Segment
from tests.support.config import base_config, to_toml

__all__ = [
    "FRAME_CLOCK_SLACK_MS",
    "SIM_BFRAMES",
    "SIM_CLIP_S",
    "SIM_GOP_S",
    "SIM_KBPS",
    "SIM_SIZE",
    "camera_entry",
    "check_camera_segments",
    "frame_needles",
    "kill_9_while_recording",
    "recorder_config",
    "scan_for_plaintext",
    "segments_of",
    "served_frames",
    "sim_kwargs",
    "stop_processes",
    "vcl_signature",
    "wait_for",
]

SIM_SIZE = (320, 240)
SIM_KBPS = 200
SIM_GOP_S = 1.0
SIM_CLIP_S = 4
SIM_BFRAMES = 3  # B-frames of the simulated B-frame cameras (x264 High profile, B-pyramid)


#: How far a stored frame's wall time may run ahead of a test's clock: it comes from the
#: camera's RTP clock, so the last frame before a SIGKILL can be stamped a frame or so later
#: than the moment the test reads its own clock after the kill.
FRAME_CLOCK_SLACK_MS = 200


def sim_kwargs() -> dict[str, Any]:
    """Small, cheap simulated cameras: 320x240, a key frame every second, a 4 s loop."""
    return {
        "width": SIM_SIZE[0],
        "height": SIM_SIZE[1],
        "bitrate_kbps": SIM_KBPS,
        "gop_s": SIM_GOP_S,
        "clip_duration_s": SIM_CLIP_S,
    }


def camera_entry(camera_id: str, url: str, group: str = "general") -> dict[str, Any]:
    return {
        "id": camera_id,
        "name": camera_id,
        "location": "1층 로비",
        "location_type": "lobby",
        "url": url,
        "group": group,
    }


def recorder_config(
    tmp_path: Path, cameras: list[dict[str, Any]], **recorder: Any
) -> dict[str, Any]:
    data = base_config(tmp_path, 0)
    data["cameras"] = cameras
    data["groups"].append(
        {"name": "or-audio", "min_days": 30, "max_days": 30, "audio_allowed": True,
         "audio_consent_ref": "동의서 2026-001"}
    )  # fmt: skip
    data["recorder"] = {"segment_target_s": 2, "reconnect_max_backoff_s": 1.0, **recorder}
    return data


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], timeout_s: float = 30) -> None:
    """SIGTERM every process still running, then wait for each (SIGKILL past ``timeout_s``)."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll until ``predicate`` holds; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def segments_of(ctx: AppContext, camera_id: str | None = None) -> list[Segment]:
    with ctx.db.session() as session:
        query = select(Segment).order_by(col(Segment.camera_id), col(Segment.start_ms))
        if camera_id is not None:
            query = query.where(col(Segment.camera_id) == camera_id)
        return list(session.exec(query).all())


def vcl_signature(access_unit: bytes, codec: str = "h264") -> bytes:
    """The picture data of an access unit (parameter sets, SEI and AUDs left out), which the
    RTSP payloader and depayloader must carry unchanged."""
    parts = []
    for begin, end in iter_nal_units(access_unit):
        kind = access_unit[begin] & 0x1F if codec == "h264" else (access_unit[begin] >> 1) & 0x3F
        if (1 <= kind <= 5) if codec == "h264" else kind < 32:
            parts.append(access_unit[begin:end].rstrip(b"\x00"))
    return b"".join(parts)


def served_frames(codec: str = "h264", *, audio: bool = False) -> list[tuple[bytes, bool]]:
    """The frames the simulator loops for ``sim_kwargs()`` cameras: (signature, key)."""
    from recorder.sim._clips import prepare_clip

    clip = prepare_clip(
        None, "h264" if codec == "h264" else "h265", SIM_SIZE[0], SIM_SIZE[1], SIM_KBPS, 25,
        SIM_GOP_S, SIM_CLIP_S, audio,
    )  # fmt: skip
    stream = b"".join(path.read_bytes() for path in clip.video_files())
    fmt = "h264" if codec == "h264" else "hevc"
    tmp = clip.path / f"whole.{fmt}.check"
    if not tmp.exists():
        tmp.write_bytes(stream)
    with av.open(str(tmp), format=fmt) as container:
        return [
            (vcl_signature(bytes(p), codec), p.is_keyframe)
            for p in container.demux(video=0)
            if p.size
        ]


def check_camera_segments(ctx: AppContext, camera_id: str, served: list[tuple[bytes, bool]]) -> int:
    """Every segment of the camera decrypts, starts with a key frame, holds what its row says,
    and its frames are the served ones in order, with none lost inside a run. Returns frames."""
    opener = PrivateKeyFileOpener(ctx.settings.storage.key_dir)
    position = {sig: index for index, (sig, _) in enumerate(served)}
    assert len(position) == len(served), "the served clip must not repeat a frame"
    total = 0
    expected_next: dict[int | None, int] = {}  # run id -> clip index the next segment starts at
    for segment in segments_of(ctx, camera_id):
        video = [
            s
            for s in iter_packets(segment, opener, ctx.settings.segments_dir)
            if s.stream_index == 0
        ]
        assert video and video[0].is_key
        assert len(video) == segment.frames
        assert sum(s.is_key for s in video) == segment.key_frames
        start = position[vcl_signature(video[0].data, segment.codec)]
        if segment.run_id in expected_next:
            assert start == expected_next[segment.run_id], f"frames lost before {segment.path}"
        for offset, sample in enumerate(video):
            signature, is_key = served[(start + offset) % len(served)]
            assert vcl_signature(sample.data, segment.codec) == signature
            assert sample.is_key == is_key
        expected_next[segment.run_id] = (start + len(video)) % len(served)
        total += len(video)
    return total


# Structural signatures, specific enough that ciphertext never matches by chance (at least 5
# fixed bytes each: about one false hit per 10^12 bytes scanned).
_SIGNATURES = [
    (re.compile(rb"ftyp(?:isom|iso[2-9]|mp4[12]|avc1|dash|msdh|M4V )"), "MP4 ftyp box"),
    (re.compile(rb"moov.{4}mvhd", re.DOTALL), "MP4 moov box"),
    (re.compile(rb"moof.{4}mfhd", re.DOTALL), "MP4 fragment"),
    (re.compile(rb"\xff\xd8\xff[\xe0\xe1].{2}(?:JFIF|Exif)\x00", re.DOTALL), "JPEG"),
    (re.compile(rb"\x00\x00\x00\x01[\x67\x68\x27\x28]"), "H.264 SPS/PPS behind a start code"),
    (re.compile(rb"\x00\x00\x00\x01[\x40\x42\x44]\x01"), "H.265 VPS/SPS/PPS behind a start code"),
]


def scan_for_plaintext(root: Path, needles: Sequence[bytes] = ()) -> list[str]:
    """Files under ``root`` (but the SQLite database) holding video plaintext: container or
    bitstream signatures, or any of ``needles`` (pieces of the frames the cameras sent)."""
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith("appliance.db"):
            continue
        data = path.read_bytes()
        found += [f"{path}: {name}" for pattern, name in _SIGNATURES if pattern.search(data)]
        found += [f"{path}: a served frame's bytes" for needle in needles if needle in data]
    return found


def frame_needles(frames: list[bytes], count: int = 16, size: int = 32) -> list[bytes]:
    """``count`` byte windows from the middle of frames, to look for in stored files."""
    step = max(1, len(frames) // count)
    picked = [f for f in frames[::step] if len(f) > 3 * size][:count]
    return [f[len(f) // 2 : len(f) // 2 + size] for f in picked]


def _run_recorder(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from appliance.cli import app; app()",
             "run", "--only", "recorder", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def kill_9_while_recording(
    ctx: AppContext, data: dict[str, Any], root: Path, *, kills: int, rng: random.Random
) -> Path:
    """Run ``appliance run --only recorder`` on ``data`` ``kills`` times, each in its own
    process killed with SIGKILL at a random moment once two more segments are indexed (with
    2 s segments the moment hits writing, fsync, rename or the insert). Returns the log."""
    config = root / "appliance.toml"
    config.write_text(to_toml(data), encoding="utf-8")
    log = root / "recorder.log"
    for _ in range(kills):
        wanted = len(segments_of(ctx)) + 2
        proc = _run_recorder(config, log)
        try:
            wait_for(lambda: len(segments_of(ctx)) >= wanted, 60, "segments")  # noqa: B023
            time.sleep(rng.uniform(0.0, 2.0))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL, log.read_text()
    return log
