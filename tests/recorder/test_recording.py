"""The recorder against simulated RTSP cameras: what it stores, how it survives outages."""

from __future__ import annotations

import io
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from sqlmodel import col, select

from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.media import PrivateKeyFileOpener, build_fmp4, iter_packets
from appliance.models.media import CameraStatus, Gap, Run
from recorder.daemon import RecorderDaemon
from recorder.sim import CameraSimulator, SimCamera
from recorder.status import CameraState, FailReason
from tests.support.recorder import (
    camera_entry,
    check_camera_segments,
    frame_needles,
    recorder_config,
    scan_for_plaintext,
    segments_of,
    served_frames,
    sim_kwargs,
    wait_for,
)

OpenCtx = Callable[[dict[str, Any]], AppContext]


@pytest.mark.slow
def test_thirty_cameras_for_a_minute(tmp_path: Path, open_recorder_ctx: OpenCtx) -> None:
    """R-REC-1: 30 cameras, every segment decrypts and holds exactly the frames served."""
    with CameraSimulator(30, **sim_kwargs()) as sim:
        cameras = [camera_entry(f"cam{i:02d}", sim.url(f"cam{i}")) for i in range(1, 31)]
        ctx = open_recorder_ctx(recorder_config(tmp_path, cameras, segment_target_s=10))
        service = RecorderDaemon(ctx)
        service.start()
        try:
            # A minute of recording, measured in stored footage rather than in sleeps.
            wait_for(
                lambda: all(
                    (s.last_segment_end_ms or 0) - s.since_ms >= 60_000
                    for s in service.status().values()
                ),
                timeout_s=150,
                what="60 s of footage from every camera",
            )
        finally:
            service.stop()
    served = served_frames()
    for i in range(1, 31):
        status = service.status()[f"cam{i:02d}"]
        assert status.state is CameraState.stopped
        frames = check_camera_segments(ctx, f"cam{i:02d}", served)
        assert frames >= 60 * 25
    segments = segments_of(ctx)
    assert {s.codec for s in segments} == {"h264"}
    assert all(not s.has_audio and (s.width, s.height) == (320, 240) for s in segments)
    ledgered = ctx.ledger.entries(events=[EventType.segment_created], limit=None)
    assert sorted(int(e.ref or 0) for e in ledgered) == sorted(s.id or 0 for s in segments)
    with ctx.db.session() as session:
        runs = session.exec(select(Run)).all()
        assert len(runs) == 30 and all(r.ended_ms for r in runs)
        assert session.exec(select(Gap)).all() == []
    needles = frame_needles([sig for sig, _ in served])
    assert scan_for_plaintext(ctx.settings.storage.data_dir, needles) == []


@pytest.mark.parametrize("ingest", ["native", "ffmpeg"])
def test_outage_is_a_gap_and_recording_resumes(
    tmp_path: Path, open_recorder_ctx: OpenCtx, ingest: str
) -> None:
    with CameraSimulator(2, **sim_kwargs()) as sim:
        cameras = [camera_entry("cam01", sim.url("cam1")), camera_entry("cam02", sim.url("cam2"))]
        ctx = open_recorder_ctx(recorder_config(tmp_path, cameras, ingest=ingest))
        # Invariant 2: the recorder works without any private key within reach.
        private_keys = {p: tmp_path / f"away-{p.name}" for p in _private_key_files(ctx)}
        for path, away in private_keys.items():
            path.rename(away)
        service = RecorderDaemon(ctx)
        service.start()
        try:
            wait_for(lambda: len(segments_of(ctx, "cam01")) >= 2, 30, "footage of cam01")
            sim.stop_camera("cam1")
            wait_for(
                lambda: service.status()["cam01"].state is CameraState.reconnecting,
                15,
                "cam01 to be reconnecting",
            )
            assert service.status()["cam01"].reason in (
                FailReason.stream_ended,
                FailReason.unreachable,
            )
            wait_for(lambda: _open_gap(ctx, "cam01") is not None, 15, "the gap row")
            before = len(segments_of(ctx, "cam01"))
            sim.start_camera("cam1")
            back_ms = ctx.clock.now_ms()
            wait_for(lambda: len(segments_of(ctx, "cam01")) >= before + 2, 30, "new footage")
        finally:
            service.stop()
            for path, away in private_keys.items():
                away.rename(path)
    with ctx.db.session() as session:
        gaps = session.exec(select(Gap).where(col(Gap.camera_id) == "cam01")).all()
        cam02_gaps = session.exec(select(Gap).where(col(Gap.camera_id) == "cam02")).all()
        runs = session.exec(select(Run).where(col(Run.camera_id) == "cam01")).all()
    assert len(gaps) == 1 and gaps[0].end_ms is not None
    assert gaps[0].reason in ("stream_ended", "unreachable")
    # Recording again within 5 s of the camera's return (the footage itself says when).
    assert gaps[0].end_ms - back_ms <= 5000
    assert len(runs) == 2
    assert cam02_gaps == []  # the other camera never noticed
    served = served_frames()
    check_camera_segments(ctx, "cam01", served)
    check_camera_segments(ctx, "cam02", served)
    after = [s for s in segments_of(ctx, "cam01") if s.start_ms >= gaps[0].end_ms]
    assert after and after[0].start_ms == gaps[0].end_ms


def _private_key_files(ctx: AppContext) -> list[Path]:
    found = [
        p for p in ctx.settings.storage.key_dir.rglob("*") if p.is_file() and p.suffix == ".key"
    ]
    assert found, "the vault private key file should exist"
    return found


def _open_gap(ctx: AppContext, camera_id: str) -> Gap | None:
    with ctx.db.session() as session:
        return session.exec(
            select(Gap).where(col(Gap.camera_id) == camera_id, col(Gap.end_ms).is_(None))
        ).first()


@pytest.mark.parametrize("ingest", ["native", "ffmpeg"])
def test_statuses_and_audio_while_others_record(
    tmp_path: Path, open_recorder_ctx: OpenCtx, ingest: str
) -> None:
    """401 and a wrong URL give their statuses; audio is dropped unless the group allows it;
    H.265 is recorded as it comes. (The consented camera is read through FFmpeg either way.)"""
    cams = [
        SimCamera("plain", audio=True),
        SimCamera("consented", audio=True),
        SimCamera("locked", username="admin", password="secret"),
        SimCamera("hevc", codec="h265"),
    ]
    with CameraSimulator(cams, **sim_kwargs()) as sim:
        cameras = [
            camera_entry("cam01", sim.url("plain")),
            camera_entry("cam02", sim.url("consented"), group="or-audio"),
            camera_entry("cam03", f"rtsp://admin:wrongpass@127.0.0.1:{sim.port}/locked"),
            camera_entry("cam04", f"rtsp://127.0.0.1:{sim.port}/no-such-camera"),
            camera_entry("cam05", sim.url("locked")),
            camera_entry("cam06", sim.url("hevc")),
        ]
        ctx = open_recorder_ctx(recorder_config(tmp_path, cameras, ingest=ingest))
        service = RecorderDaemon(ctx)
        service.start()
        try:
            wait_for(
                lambda: all(
                    len(segments_of(ctx, c)) >= 2 for c in ("cam01", "cam02", "cam05", "cam06")
                ),
                30,
                "footage from the working cameras",
            )
            wait_for(
                lambda: all(
                    service.status()[c].state is CameraState.failed for c in ("cam03", "cam04")
                ),
                15,
                "the failing cameras' statuses",
            )
            status = service.status()
        finally:
            service.stop()
    assert (status["cam03"].reason, status["cam04"].reason) == (
        FailReason.unauthorized,
        FailReason.unreachable,
    )
    assert "401" in status["cam03"].detail
    assert "wrongpass" not in status["cam03"].detail  # camera passwords never leave the config
    for camera_id in ("cam01", "cam02", "cam05", "cam06"):
        assert status[camera_id].state is CameraState.recording
    with ctx.db.session() as session:
        rows = {r.camera_id: r for r in session.exec(select(CameraStatus)).all()}
    assert rows["cam03"].state == "stopped"  # after stop()
    assert all("wrongpass" not in r.detail for r in rows.values())
    assert segments_of(ctx, "cam03") == [] and segments_of(ctx, "cam04") == []
    opener = PrivateKeyFileOpener(ctx.settings.storage.key_dir)
    for camera_id, audio in (("cam01", False), ("cam02", True)):
        segments = segments_of(ctx, camera_id)
        for segment in segments:
            assert segment.has_audio is audio
            streams = {
                s.stream_index for s in iter_packets(segment, opener, ctx.settings.segments_dir)
            }
            # The stop can land a few video frames after a cut, before the next sound packet:
            # that last, tiny segment has the audio track but no sound in it yet.
            tail = segment is segments[-1] and segment.end_ms - segment.start_ms < 200
            if audio and tail:
                assert 0 in streams and streams <= {0, 1}
            else:
                where = f"segment {segments.index(segment) + 1} of {len(segments)}"
                length = f"{segment.end_ms - segment.start_ms} ms"
                assert streams == ({0, 1} if audio else {0}), f"{camera_id} {where}, {length}"
    # The rebuilt MP4 of the consented camera carries its sound, in step with the picture.
    consented = segments_of(ctx, "cam02")
    mp4 = b"".join(
        build_fmp4(
            consented, consented[0].start_ms, consented[-1].end_ms, opener,
            ctx.settings.segments_dir, audio=True,
        )
    )  # fmt: skip
    with av.open(io.BytesIO(mp4), "r") as container:
        assert len(container.streams.audio) == 1
        video_frames = sum(1 for _ in container.decode(video=0))
    with av.open(io.BytesIO(mp4), "r") as container:
        audio_s = sum(f.samples / f.sample_rate for f in container.decode(audio=0))
    assert video_frames == sum(s.frames for s in consented)
    assert audio_s == pytest.approx(video_frames / 25, abs=0.5)
    with_audio = served_frames(audio=True)
    check_camera_segments(ctx, "cam01", with_audio)
    check_camera_segments(ctx, "cam02", with_audio)
    check_camera_segments(ctx, "cam05", served_frames())
    assert {s.codec for s in segments_of(ctx, "cam06")} == {"hevc"}  # H.265 as it comes
    with ctx.db.session() as session:
        run = session.exec(select(Run).where(col(Run.camera_id) == "cam06")).first()
    assert run is not None and (run.width, run.height) == (320, 240)
    check_camera_segments(ctx, "cam06", served_frames("h265"))


def test_a_camera_that_hangs_is_detected(tmp_path: Path, open_recorder_ctx: OpenCtx) -> None:
    """A camera whose connection stays open but sends nothing: the socket timeout ends the
    session (no read blocks forever), and recording resumes when it answers again."""
    with CameraSimulator(1, **sim_kwargs()) as sim:
        ctx = open_recorder_ctx(
            recorder_config(tmp_path, [camera_entry("cam01", sim.url("cam1"))], rtsp_timeout_s=1.5)
        )
        service = RecorderDaemon(ctx)
        service.start()
        server = sim._proc  # the RTSP server process: frozen to play a hung camera
        assert server is not None
        try:
            wait_for(lambda: len(segments_of(ctx, "cam01")) >= 1, 30, "footage")
            server.send_signal(signal.SIGSTOP)
            try:
                wait_for(
                    lambda: service.status()["cam01"].state is not CameraState.recording,
                    15,
                    "the hang to be noticed",
                )
            finally:
                server.send_signal(signal.SIGCONT)
            count = len(segments_of(ctx, "cam01"))
            wait_for(lambda: len(segments_of(ctx, "cam01")) >= count + 2, 30, "footage again")
        finally:
            service.stop()
    check_camera_segments(ctx, "cam01", served_frames())
