"""The live-view fan-out never blocks the recorder and drops for slow subscribers only."""

from __future__ import annotations

import threading

from appliance.media.format import Sample, StreamInfo
from recorder.fanout import PacketFanout


def _sample(i: int) -> Sample:
    return Sample(0, bytes([i % 256]), i, i, 1, i % 10 == 0, i)


def test_slow_subscriber_loses_samples_fast_one_does_not() -> None:
    fanout = PacketFanout()
    slow = fanout.subscribe(maxsize=5)
    fast = fanout.subscribe(maxsize=1000)
    received: list[Sample] = []
    done = threading.Event()

    def consume() -> None:
        while len(received) < 200:
            item = fast.get(timeout=5)
            assert item is not None
            received.append(item)
        done.set()

    thread = threading.Thread(target=consume)
    thread.start()
    for i in range(200):
        fanout.publish(_sample(i))  # never blocks, whatever the subscribers do
    thread.join(10)
    assert done.is_set()
    assert [s.pts for s in received] == list(range(200))
    assert slow.dropped == 195
    assert [slow.get(timeout=0).pts for _ in range(5)] == [0, 1, 2, 3, 4]  # type: ignore[union-attr]
    assert slow.get(timeout=0) is None
    slow.close()
    fast.close()
    assert fanout.subscribers == 0
    fanout.publish(_sample(1))  # nobody listening: fine


def test_init_follows_stream_changes() -> None:
    fanout = PacketFanout()
    assert fanout.init == b"" and fanout.init_serial == 0
    info = StreamInfo(0, "video", "h264", 1, 90_000, 320, 240, init=b"init-a")
    fanout.set_streams((info,))
    fanout.set_streams((info,))
    assert (fanout.init, fanout.init_serial) == (b"init-a", 1)
    fanout.set_streams((StreamInfo(0, "video", "h264", 1, 90_000, 640, 480, init=b"init-b"),))
    assert (fanout.init, fanout.init_serial) == (b"init-b", 2)
