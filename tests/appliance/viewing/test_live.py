"""Live streams over a real packet fan-out (no camera needed): what stops them, what they send."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

import av
import pytest

from appliance.access import AccessService, Principal
from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import NotFound
from appliance.media import StreamInfo
from appliance.media._nal import annexb_to_length_prefixed
from appliance.media.format import Sample
from appliance.media.mp4 import init_from_keyframe
from appliance.models import Role
from appliance.nodes import acquire, ensure_leases, register
from appliance.viewing import ViewingService, ViewKind, make_purpose
from recorder.fanout import PacketFanout
from tests.support.footage import FRAME_TICKS, TB, Clip, make_clip

PASSWORD = "correct horse battery"


class Recorder:
    """Stands where the recorder service stands: cam01 has a live fan-out, others do not."""

    def __init__(self, fanout: PacketFanout) -> None:
        self._fanout = fanout

    def fanout(self, camera_id: str) -> PacketFanout:
        if camera_id != "cam01":
            raise NotFound(f"camera {camera_id} is not being recorded")
        return self._fanout


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "l.h264", "h264", 2)


@pytest.fixture
def camera(clip: Clip, ctx: AppContext) -> Iterator[PacketFanout]:
    """cam01 publishing the clip in a loop, about ten times real time."""
    fanout = PacketFanout()
    init, width, height = init_from_keyframe("h264", clip[0][0])
    fanout.set_streams((StreamInfo(0, "video", "h264", 1, TB, width, height, init=init),))
    stop = threading.Event()

    def publish() -> None:
        ts = 0
        while not stop.is_set():
            for data, key in clip:
                fanout.publish(Sample(0, data, ts, ts, FRAME_TICKS, key, 0))
                ts += FRAME_TICKS
                if stop.wait(0.004):
                    return

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    recorder = Recorder(fanout)
    ctx.live.attach(recorder)
    yield fanout
    stop.set()
    thread.join(5)
    ctx.live.detach(recorder)


@pytest.fixture
def viewer(ctx: AppContext) -> tuple[AccessService, ViewingService, Principal]:
    access = AccessService(ctx.db, ctx.clock, ctx.settings.server, ctx.ledger)
    root = Principal.local("root")
    user, _ = access.create_user(
        root, username="guard", role=Role.viewer, display_name="경비", password=PASSWORD
    )
    assert user.id is not None
    access.change_grants(root, user.id, add=["cam01", "cam02"])
    service = ViewingService(ctx.db, ctx.clock, ctx.settings, ctx.ledger, ctx.vault, ctx.live)
    return access, service, access.login("guard", PASSWORD).principal


def _open(service: ViewingService, principal: Principal, cameras: list[str]) -> int:
    opened = service.open(
        principal,
        kind=ViewKind.live,
        cameras=cameras,
        purpose=make_purpose("safety", "출입문 확인"),
    )
    assert opened.id is not None
    return opened.id


def _drain(stream: Any, into: bytearray) -> threading.Thread:
    def run() -> None:
        for chunk in stream:
            into.extend(chunk)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait(predicate: Any, what: str) -> None:
    import time

    deadline = time.monotonic() + 10
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_live_stream_is_playable_mp4(
    camera: PacketFanout, viewer: tuple[AccessService, ViewingService, Principal]
) -> None:
    _, service, principal = viewer
    viewing_id = _open(service, principal, ["cam01"])
    stream = service.live_stream(principal, viewing_id, "cam01")
    received = bytearray()
    thread = _drain(stream, received)
    _wait(lambda: received.count(b"moof") >= 4, "four fragments")
    stream.close()
    thread.join(5)
    container: Any
    with av.open(io.BytesIO(bytes(received))) as container:
        frames = list(container.decode(video=0))
    assert len(frames) >= 10 and frames[0].key_frame
    (span,) = service.spans(principal, viewing_id)
    assert span.bytes_sent == len(received) and span.finished_ms is not None


@pytest.mark.parametrize("how", ["logout", "end", "revoke", "disable"])
def test_live_stream_stops(
    how: str,
    camera: PacketFanout,
    viewer: tuple[AccessService, ViewingService, Principal],
    clock: FakeClock,
) -> None:
    access, service, principal = viewer
    viewing_id = _open(service, principal, ["cam01"])
    stream = service.live_stream(principal, viewing_id, "cam01")
    received = bytearray()
    thread = _drain(stream, received)
    _wait(lambda: b"moof" in received, "the first fragment")
    root = Principal.local("root")
    if how == "logout":
        access.logout(principal)
    elif how == "end":
        service.end(principal, viewing_id)
    elif how == "revoke":
        access.change_grants(root, principal.user_id, revoke=["cam01"])
    else:
        access.set_disabled(root, principal.user_id, True)
    clock.advance(3)  # the stream re-reads its session every 2 s (of the injected clock)
    thread.join(10)
    assert not thread.is_alive(), f"the stream went on after {how}"
    assert camera.subscribers == 0


def test_camera_not_live_is_a_4xx_and_recorded(
    camera: PacketFanout, viewer: tuple[AccessService, ViewingService, Principal]
) -> None:
    _, service, principal = viewer
    viewing_id = _open(service, principal, ["cam02"])
    with pytest.raises(NotFound, match="is not live on this node"):
        service.live_stream(principal, viewing_id, "cam02")
    (span,) = service.spans(principal, viewing_id)
    assert span.outcome == "not live" and span.bytes_sent == 0


def test_camera_recorded_on_another_node_is_served_there(
    ctx: AppContext,
    camera: PacketFanout,
    viewer: tuple[AccessService, ViewingService, Principal],
) -> None:
    """Several recorder nodes (design/scale.md): live view is served by the node holding the
    camera's lease; this node names it, and the attempt is in the viewing record."""
    with ctx.db.session() as session:
        ensure_leases(session, ["cam02"])
        register(session, "rec-b", live_url="https://rec-b.clinic.lan:8443", floor_bytes=0)
        assert acquire(session, "cam02", "rec-b", 15_000) is not None
    _, service, principal = viewer
    viewing_id = _open(service, principal, ["cam02"])
    with pytest.raises(NotFound, match=r"recorded by node rec-b: .*\(https://rec-b.clinic.lan"):
        service.live_stream(principal, viewing_id, "cam02")
    (span,) = service.spans(principal, viewing_id)
    assert span.outcome == "not live" and span.bytes_sent == 0


def test_slow_viewer_resumes_at_a_key_frame(
    camera: PacketFanout, viewer: tuple[AccessService, ViewingService, Principal]
) -> None:
    import time

    _, service, principal = viewer
    viewing_id = _open(service, principal, ["cam01"])
    stream = service.live_stream(principal, viewing_id, "cam01")
    iterator = iter(stream)
    received = bytearray(next(iterator))
    while received.count(b"moof") < 2:  # some pictures out before falling behind
        received += next(iterator)
    time.sleep(4)  # several hundred samples published into a queue of 256: some are dropped
    deadline = time.monotonic() + 5
    while received.count(b"moof") < 42 and time.monotonic() < deadline:  # past the backlog
        received += next(iterator)
    stream.close()
    container: Any
    with av.open(io.BytesIO(bytes(received))) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    times = [float(p.dts * p.time_base) for p in packets]
    gaps = [i for i in range(1, len(times)) if times[i] - times[i - 1] > 0.06]
    assert gaps, "no sample was dropped: the test did not fall behind"
    # After each gap the stream resumes at a key frame, never at a picture that needs the lost ones.
    assert all(packets[i].is_keyframe for i in gaps)


def test_new_viewer_starts_from_the_cached_key_frame(
    clip: Clip,
    ctx: AppContext,
    clock: FakeClock,
    viewer: tuple[AccessService, ViewingService, Principal],
) -> None:
    """The camera's current GOP is kept: a viewer who arrives mid-GOP gets that GOP's key frame
    (older than the moment of asking) first, and the span starts at its picture time; no new
    key frame is ever sent here, so without the cache nothing could be shown."""
    _, service, principal = viewer
    fanout = PacketFanout()
    init, width, height = init_from_keyframe("h264", clip[0][0])
    fanout.set_streams((StreamInfo(0, "video", "h264", 1, TB, width, height, init=init),))
    gop = clip[: next(i for i in range(1, len(clip)) if clip[i][1])]  # one key frame, then not
    assert len(gop) >= 20 and gop[0][1] and not any(key for _, key in gop[1:])
    now = clock.now_ms()
    cached = 12  # about half a second of the GOP went by before the viewer came
    key_wall = now - cached * 40

    def sample(i: int) -> Sample:
        data, key = gop[i]
        return Sample(0, data, i * FRAME_TICKS, i * FRAME_TICKS, 0, key, key_wall + i * 40)

    for i in range(cached):
        fanout.publish(sample(i))
    assert fanout.cached[0] == cached
    recorder = Recorder(fanout)
    ctx.live.attach(recorder)
    try:
        viewing_id = _open(service, principal, ["cam01"])
        stream = service.live_stream(principal, viewing_id, "cam01")
        iterator = iter(stream)
        received = bytearray(next(iterator))  # the header: primed before the response starts
        for i in range(cached, len(gop)):  # the rest of the GOP arrives live
            fanout.publish(sample(i))
        while received.count(b"moof") < 1:
            received += next(iterator)
        stream.close()
    finally:
        ctx.live.detach(recorder)
    container: Any
    with av.open(io.BytesIO(bytes(received))) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert packets[0].is_keyframe and packets[0].pts == 0
    assert bytes(packets[0]) == annexb_to_length_prefixed(gop[0][0])  # the cached key frame
    # The cached frames keep the camera's spacing: they play on smoothly into live.
    assert [float(p.pts * p.time_base) for p in packets[:cached]] == pytest.approx(
        [i * FRAME_TICKS / TB for i in range(cached)]
    )
    (span,) = service.spans(principal, viewing_id)
    assert span.start_ms == key_wall and span.began_ms - span.start_ms == cached * 40


def test_a_gop_too_large_is_not_kept(clip: Clip) -> None:
    fanout = PacketFanout(max_gop_bytes=len(clip[0][0]) + len(clip[1][0]))
    for i, (data, key) in enumerate(clip[:3]):
        fanout.publish(Sample(0, data, i, i, 0, key, i))
        assert fanout.cached[0] == (i + 1 if i < 2 else 0)
    assert fanout.subscribe().get(timeout=0) is None  # the next viewer waits for a key frame
    fanout.publish(Sample(0, clip[0][0], 9, 9, 0, True, 9))
    first = fanout.subscribe().get(timeout=0)
    assert first is not None and first.is_key
