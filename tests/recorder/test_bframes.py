"""Cameras that send B-frames, recorded by the native client (never handed to FFmpeg): what is
stored decrypts, rebuilds into an MP4 with composition offsets, and decodes frame-exact against
a direct decode of the simulator's clip, in presentation order; a ``kill -9`` mid-recording
leaves segments that the start-up check accepts and that play."""

from __future__ import annotations

import hashlib
import io
import itertools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from sqlmodel import select

from appliance.context import AppContext
from appliance.media import PrivateKeyFileOpener, build_fmp4, iter_packets
from appliance.models.media import Run
from recorder.daemon import RecorderDaemon
from recorder.sim import CameraSimulator, SimCamera
from recorder.sim._clips import Clip, prepare_clip
from tests.support.recorder import (
    SIM_BFRAMES,
    SIM_CLIP_S,
    SIM_GOP_S,
    SIM_KBPS,
    SIM_SIZE,
    camera_entry,
    kill_9_while_recording,
    recorder_config,
    segments_of,
    sim_kwargs,
    vcl_signature,
    wait_for,
)

OpenCtx = Callable[[dict[str, Any]], AppContext]
BFRAMES = SIM_BFRAMES
TICKS = 90_000 // 25


def _clip(codec: str) -> Clip:
    return prepare_clip(
        None, "h264" if codec == "h264" else "h265", SIM_SIZE[0], SIM_SIZE[1], SIM_KBPS, 25,
        SIM_GOP_S, SIM_CLIP_S, False, BFRAMES,
    )  # fmt: skip


def _source(clip: Clip) -> tuple[list[bytes], list[str]]:
    """The clip's VCL signatures in decoding order, and a hash of each decoded picture in
    presentation order (FFmpeg's decoder on the clip itself: the reference)."""
    fmt = "h264" if clip.codec == "h264" else "hevc"
    codec = "h264" if clip.codec == "h264" else "hevc"
    stream = b"".join(path.read_bytes() for path in clip.video_files())
    with av.open(io.BytesIO(stream), "r", format=fmt) as container:
        signatures = [vcl_signature(bytes(p), codec) for p in container.demux(video=0) if p.size]
    with av.open(io.BytesIO(stream), "r", format=fmt) as container:
        pictures = [_picture_hash(frame) for frame in container.decode(video=0)]
    assert len(signatures) == len(pictures) == clip.frames
    return signatures, pictures


def _picture_hash(frame: av.VideoFrame) -> str:
    return hashlib.sha256(b"".join(bytes(plane) for plane in frame.planes)).hexdigest()[:16]


def _check_footage(ctx: AppContext, camera_id: str, clip: Clip) -> int:
    """Stored samples are the served pictures in decoding order with valid times; the rebuilt
    MP4 carries composition offsets and decodes to the clip's pictures in presentation order.
    Returns the pictures checked."""
    signatures, pictures = _source(clip)
    codec = "h264" if clip.codec == "h264" else "hevc"
    position = {sig: i for i, sig in enumerate(signatures)}
    opener = PrivateKeyFileOpener(ctx.settings.storage.key_dir)
    segments = segments_of(ctx, camera_id)
    assert segments
    checked = 0
    for run_id in sorted({s.run_id for s in segments}, key=lambda r: r or 0):
        run = [s for s in segments if s.run_id == run_id]
        samples = [
            sample
            for segment in run
            for sample in iter_packets(segment, opener, ctx.settings.segments_dir)
            if sample.stream_index == 0
        ]
        assert samples[0].is_key
        start = position[vcl_signature(samples[0].data, codec)]
        reordered = 0
        for offset, sample in enumerate(samples):  # every served picture, in decoding order
            assert vcl_signature(sample.data, codec) == signatures[(start + offset) % clip.frames]
            assert sample.dts <= sample.pts
            reordered += sample.pts != sample.dts
        dts = [s.dts for s in samples]
        assert all(a < b for a, b in itertools.pairwise(dts))
        assert reordered > len(samples) // 2  # B-frames: most pictures shown after decoding
        # Presentation order: the picture at pts P shows the clip's picture (P - P0) / frame
        # after the run's first key frame (closed GOPs: the key frame is shown first).
        first_pts = samples[0].pts
        mp4 = b"".join(
            build_fmp4(run, run[0].start_ms, run[-1].end_ms, opener, ctx.settings.segments_dir)
        )
        with av.open(io.BytesIO(mp4), "r") as container:
            packets = [p for p in container.demux(video=0) if p.size]
            assert any(p.pts != p.dts for p in packets)  # ctts / trun composition offsets
            assert len(packets) == len(samples)
        with av.open(io.BytesIO(mp4), "r") as container:
            stream = container.streams.video[0]
            decoded = list(container.decode(stream))
        assert len(decoded) == len(samples)
        tb = stream.time_base
        assert tb is not None
        out_first = decoded[0].pts
        assert out_first is not None
        shown = []
        for frame in decoded:
            assert frame.pts is not None
            index = round((frame.pts - out_first) * tb * 25)
            shown.append(index)
            assert _picture_hash(frame) == pictures[(start + index) % clip.frames], index
        assert shown == sorted(shown) and len(set(shown)) == len(shown)
        # The stored presentation times say the same as the MP4's.
        stored = sorted(round((s.pts - first_pts) / TICKS) for s in samples)
        assert stored == shown
        checked += len(decoded)
    return checked


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_b_frame_cameras_are_recorded_natively_and_frame_exact(
    tmp_path: Path, open_recorder_ctx: OpenCtx, codec: str
) -> None:
    cams = [SimCamera(id="cam1", codec=codec, bframes=BFRAMES)]  # type: ignore[arg-type]
    with CameraSimulator(cams, **sim_kwargs()) as sim:
        ctx = open_recorder_ctx(
            recorder_config(tmp_path, [camera_entry("cam01", sim.url("cam1"))], ingest="native")
        )
        service = RecorderDaemon(ctx)
        service.start()
        try:
            wait_for(
                lambda: (
                    (service.status()["cam01"].last_segment_end_ms or 0)
                    - service.status()["cam01"].since_ms
                    >= 20_000
                ),
                timeout_s=90,
                what="20 s of footage",
            )
            worker = service.workers["cam01"]
            assert worker.native and not worker.needs_ffmpeg and worker.reorder_depth == 0
            source_depth = worker.sessions
        finally:
            service.stop()
    assert source_depth == 1  # one session: never reconnected, never switched
    with ctx.db.session() as session:
        runs = session.exec(select(Run)).all()
    assert len(runs) == 1 and runs[0].codec == ("h264" if codec == "h264" else "hevc")
    assert worker.counters.timestamp_jumps == 0 and worker.counters.bad_packets == 0
    assert _check_footage(ctx, "cam01", _clip(codec)) >= 20 * 25


@pytest.mark.slow
def test_kill_9_during_a_b_frame_recording(tmp_path: Path, open_recorder_ctx: OpenCtx) -> None:
    rng = random.Random(20261202)
    cams = [SimCamera(id="cam1", bframes=BFRAMES)]
    with CameraSimulator(cams, **sim_kwargs()) as sim:
        data = recorder_config(tmp_path, [camera_entry("cam01", sim.url("cam1"))])
        ctx = open_recorder_ctx(data)
        log = kill_9_while_recording(ctx, data, tmp_path, kills=2, rng=rng)
        indexed = len(segments_of(ctx))
        service = RecorderDaemon(ctx)
        service.start()
        try:
            assert service.report is not None and service.report.missing_files == []
            wait_for(lambda: len(segments_of(ctx)) >= indexed + 2, 30, "footage after restart")
        finally:
            service.stop()
    assert "B-frames" not in log.read_text() and "FFmpeg" not in log.read_text()
    assert not list(ctx.settings.segments_dir.rglob("*.tmp"))
    assert _check_footage(ctx, "cam01", _clip("h264")) > 0
