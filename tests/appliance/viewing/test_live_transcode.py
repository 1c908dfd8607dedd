"""Live view of an H.265 camera: one H.264 encoder per camera, shared, stopped when unwatched."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import av
import pytest

from appliance.access import AccessService, Principal
from appliance.context import AppContext
from appliance.errors import NotFound
from appliance.media import StreamInfo
from appliance.media.format import Sample
from appliance.media.mp4 import init_from_keyframe
from appliance.models import Role
from appliance.viewing import MediaStream, ViewingService, ViewKind, make_purpose
from recorder.fanout import PacketFanout
from tests.support.footage import FRAME_TICKS, TB, Clip, make_clip

PASSWORD = "correct horse battery"


class Recorder:
    """Stands where the recorder service stands: cam01 is live."""

    def __init__(self, fanout: PacketFanout) -> None:
        self._fanout = fanout

    def fanout(self, camera_id: str) -> PacketFanout:
        if camera_id != "cam01":
            raise NotFound(f"camera {camera_id} is not being recorded")
        return self._fanout


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "l.hevc", "hevc", 2)


@pytest.fixture
def camera(clip: Clip, ctx: AppContext) -> Iterator[PacketFanout]:
    """cam01 sending H.265 in a loop at about real time."""
    fanout = PacketFanout()
    init, width, height = init_from_keyframe("hevc", clip[0][0])
    fanout.set_streams((StreamInfo(0, "video", "hevc", 1, TB, width, height, init=init),))
    stop = threading.Event()

    def publish() -> None:
        ts = 0
        while not stop.is_set():
            for data, key in clip:
                fanout.publish(Sample(0, data, ts, ts, FRAME_TICKS, key, 1000 + ts // 90))
                ts += FRAME_TICKS
                if stop.wait(0.04):
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
def viewer(ctx: AppContext) -> tuple[ViewingService, Principal]:
    access = AccessService(ctx.db, ctx.clock, ctx.settings.server, ctx.ledger)
    root = Principal.local("root")
    user, _ = access.create_user(
        root, username="guard", role=Role.viewer, display_name="경비", password=PASSWORD
    )
    assert user.id is not None
    access.change_grants(root, user.id, add=["cam01"])
    service = ViewingService(ctx.db, ctx.clock, ctx.settings, ctx.ledger, ctx.vault, ctx.live)
    return service, access.login("guard", PASSWORD).principal


def _watch(service: ViewingService, principal: Principal, **kwargs: Any) -> MediaStream:
    opened = service.open(
        principal,
        kind=ViewKind.live,
        cameras=["cam01"],
        purpose=make_purpose("safety", "출입문 확인"),
    )
    assert opened.id is not None
    return service.live_stream(principal, opened.id, "cam01", **kwargs)


def _fragments(stream: MediaStream, count: int) -> bytes:
    received = bytearray()
    for chunk in stream:
        received += chunk
        if received.count(b"moof") >= count:
            break
    return bytes(received)


def _codec_and_frames(data: bytes) -> tuple[str, int, bool]:
    container: Any
    with av.open(io.BytesIO(data)) as container:
        name = container.streams.video[0].codec_context.name
        frames = list(container.decode(video=0))
    return name, len(frames), frames[0].key_frame


def test_two_viewers_share_one_encoder_that_stops_when_both_leave(
    camera: PacketFanout, viewer: tuple[ViewingService, Principal]
) -> None:
    service, principal = viewer
    first = _watch(service, principal)
    second = _watch(service, principal)
    assert first.transcoded and second.transcoded and first.codec == "hevc"
    assert service.live_transcodes.encoders() == {"cam01": 2}
    assert service.slots.counts()[1] == 1  # one of viewing.transcodes_per_box, not two
    (transcoder,) = [t for t in threading.enumerate() if t.name == "live-transcode-cam01"]
    for stream in (first, second):
        name, frames, key = _codec_and_frames(_fragments(stream, 3))
        assert name == "h264" and frames >= 10 and key
    first.close()
    assert service.live_transcodes.encoders() == {"cam01": 1}
    assert transcoder.is_alive()
    second.close()
    assert service.live_transcodes.encoders() == {}
    transcoder.join(5)
    assert not transcoder.is_alive()
    assert service.slots.counts()[1] == 0
    assert camera.subscribers == 0


def test_a_player_that_plays_h265_gets_it_as_sent(
    camera: PacketFanout, viewer: tuple[ViewingService, Principal]
) -> None:
    service, principal = viewer
    stream = _watch(service, principal, transcode=False)
    name, frames, key = _codec_and_frames(_fragments(stream, 2))
    stream.close()
    assert not stream.transcoded and name == "hevc" and key and frames >= 10
    assert service.live_transcodes.encoders() == {}


def test_the_encoder_starts_from_the_cached_gop(
    camera: PacketFanout, viewer: tuple[ViewingService, Principal]
) -> None:
    """The first H.264 picture is the newest cached one, not the next camera key frame."""
    service, principal = viewer
    deadline = time.monotonic() + 10
    while not 5 <= camera.cached[0] <= 20:  # mid-GOP (the camera's key frames are 1 s apart)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stream = _watch(service, principal)
    data = _fragments(stream, 1)
    stream.close()
    (span,) = service.spans(principal, service.list_sessions(principal)[0].id or 0)
    container: Any
    with av.open(io.BytesIO(data)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert packets[0].is_keyframe
    # The first picture is not at a camera key frame (those are a second apart from wall 1000).
    assert (span.start_ms - 1000) % 1000 != 0, span.start_ms
