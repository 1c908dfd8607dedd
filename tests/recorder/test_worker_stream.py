"""A worker fed a hostile stream: parameter change, timestamps going back, garbage bytes.

The stream is an MPEG-TS file instead of RTSP (the demuxing code path is the same): two
encodings of different sizes glued together, so timestamps restart and the SPS changes, with
junk between them.
"""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path

import av
import pytest
from sqlmodel import col, select

from appliance.context import AppContext
from appliance.media import PrivateKeyFileOpener, build_fmp4, iter_packets
from appliance.models.media import Gap, Run, Segment
from appliance.settings import CameraConfig, LocationType
from recorder.indexer import SegmentIndexer
from recorder.status import CameraState, FailReason, StatusBoard
from recorder.vaultkey import VaultPublicKey
from recorder.worker import CameraWorker, WorkerDeps


def _ts(path: Path, size: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size={size}:rate=25", "-t", "4", "-c:v", "libx264", "-g", "25", "-bf", "0",
         "-pix_fmt", "yuv420p", "-f", "mpegts", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture
def hostile_stream(tmp_path: Path) -> Path:
    first = _ts(tmp_path / "a.ts", "320x240").read_bytes()
    second = _ts(tmp_path / "b.ts", "352x288").read_bytes()
    junk = bytes((i * 7919) % 251 for i in range(50_000))  # not TS: the demuxer must resync
    path = tmp_path / "hostile.ts"
    path.write_bytes(first + junk + second)
    return path


def _worker(ctx: AppContext, source: Path) -> tuple[CameraWorker, SegmentIndexer]:
    """A worker for cam01 reading ``source`` (a file: the same demuxing path as RTSP)."""
    camera = CameraConfig.model_construct(
        id="cam01",
        name="x",
        location="x",
        location_type=LocationType.lobby,
        url=str(source),
        group="general",
        enabled=True,
    )
    indexer = SegmentIndexer(ctx.db, ctx.clock)
    deps = WorkerDeps(
        db=ctx.db,
        clock=ctx.clock,
        config=ctx.settings.recorder,  # 60 s target: only a parameter change cuts
        segments_dir=ctx.settings.segments_dir,
        vault_key=VaultPublicKey(ctx.settings.storage.key_dir),
        indexer=indexer,
        status=StatusBoard(ctx.db, ctx.clock),
    )
    return CameraWorker(camera, deps, audio_allowed=False), indexer


def _record_one_pass(ctx: AppContext, source: Path) -> CameraWorker:
    """Record ``source`` until the worker reopens it (one pass over the file), then stop."""
    worker, indexer = _worker(ctx, source)
    indexer.start()
    worker.start()
    deadline = time.monotonic() + 30
    while worker.sessions < 2 and time.monotonic() < deadline:  # one pass over the file
        time.sleep(0.05)
    worker.stop()
    worker.join(10)
    indexer.stop()
    return worker


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-c:v", "mpeg2video"],
         FailReason.unsupported_codec),
        (["-f", "lavfi", "-i", "sine=frequency=440", "-c:a", "aac"], FailReason.no_video),
    ],
)  # fmt: skip
def test_streams_it_cannot_record(
    ctx: AppContext, tmp_path: Path, args: list[str], reason: FailReason
) -> None:
    source = tmp_path / "camera.ts"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", *args, "-t", "2", "-f", "mpegts", str(source)],
        check=True,
    )
    worker, indexer = _worker(ctx, source)
    indexer.start()
    worker.start()
    deadline = time.monotonic() + 20
    failed = None
    while failed is None and time.monotonic() < deadline:
        status = worker.deps.status.get("cam01")
        if status is not None and status.state is CameraState.failed:
            failed = status
        time.sleep(0.05)
    worker.stop()
    worker.join(10)
    indexer.stop()
    assert failed is not None and failed.reason is reason
    assert worker.counters.segments == 0
    with ctx.db.session() as session:
        gap = session.exec(select(Gap)).first()
        runs = session.exec(select(Run)).all()
    assert gap is not None and gap.reason == reason.value  # the camera is down: a gap
    assert runs == []  # nothing was recorded, so no run


def test_parameter_change_jumps_and_garbage(ctx: AppContext, hostile_stream: Path) -> None:
    worker = _record_one_pass(ctx, hostile_stream)
    assert not worker.alive()
    with ctx.db.session() as session:
        first_run = session.exec(select(Run).order_by(col(Run.id))).first()
        assert first_run is not None
        segments = list(
            session.exec(
                select(Segment)
                .where(col(Segment.run_id) == first_run.id)
                .order_by(col(Segment.start_ms))
            ).all()
        )
    assert [(s.width, s.height) for s in segments] == [(320, 240), (352, 288)]
    assert [(s.frames, s.key_frames) for s in segments] == [(100, 4), (100, 4)]
    assert segments[0].end_ms <= segments[1].start_ms  # monotonic despite the restart
    assert worker.counters.timestamp_jumps >= 1
    opener = PrivateKeyFileOpener(ctx.settings.storage.key_dir)
    for segment in segments:
        samples = list(iter_packets(segment, opener, ctx.settings.segments_dir))
        dts = [s.dts for s in samples]
        assert dts == sorted(set(dts))
    # Each part plays with its own parameters (the second segment has its own MP4 init).
    mp4 = b"".join(
        build_fmp4(
            segments[1:], segments[1].start_ms, segments[1].end_ms, opener,
            ctx.settings.segments_dir,
        )
    )  # fmt: skip
    with av.open(io.BytesIO(mp4), "r") as container:
        sizes = {(f.width, f.height) for f in container.decode(video=0)}
    assert sizes == {(352, 288)}


def test_no_key_frame_for_max_segment_length_closes_the_segment(
    ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers bound range queries by MAX_SEGMENT_MS, so the recorder never writes a longer
    segment: without a key frame it closes the segment and resumes at the next key frame."""
    import recorder.session

    monkeypatch.setattr(recorder.session, "MAX_SEGMENT_MS", 1_500)
    source = tmp_path / "sparse-keys.ts"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=320x240:rate=25", "-t", "8", "-c:v", "libx264", "-g", "100", "-bf", "0",
         "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-f", "mpegts", str(source)],
        check=True,
    )  # fmt: skip
    _record_one_pass(ctx, source)
    with ctx.db.session() as session:
        first_run = session.exec(select(Run).order_by(col(Run.id))).first()
        assert first_run is not None
        segments = session.exec(select(Segment).where(col(Segment.run_id) == first_run.id)).all()
    # Key frames at 0 s and 4 s: each starts a segment that is closed after 1.5 s, and the
    # frames up to the next key frame are skipped.
    assert [(s.frames, s.key_frames) for s in segments] == [(37, 1), (37, 1)]
    assert all(s.end_ms - s.start_ms <= 1_500 for s in segments)
