"""Reading segments from a real Swift (s3api): ranged windows with read-ahead, seeks that fetch
only the tail and the key frame's part of an object, the read-ahead into the cache, and the
first GET started early (while a viewer's span commits)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from appliance.clock import FakeClock
from appliance.keys import create_vault_key, load_vault_public_key
from appliance.media import PrivateKeyFileOpener, build_fmp4, new_segment_key
from appliance.models.media import Segment
from appliance.storage import (
    ReadCache,
    S3Credentials,
    S3Store,
    SegmentFiles,
    StoreUnavailable,
)
from appliance.storage.base import ByteStream, ObjectInfo
from appliance.storage.early import EarlyReads
from appliance.storage.remote import TailCache
from tests.support.media import START_MS, Clip, make_clip, write_segment
from tests.support.swift import SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY, SwiftServer, new_store

pytestmark = pytest.mark.swift


class Recording:
    """An ``S3Store`` that records the ranges asked of it, per key."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.kind = store.kind
        self.asked: list[tuple[str, int, int | None]] = []

    def open_range(
        self, key: str, start: int = 0, end: int | None = None, *, first_end: int | None = None
    ) -> ByteStream:
        self.asked.append((key, start, end))
        return self.store.open_range(key, start, end, first_end=first_end)

    def prepare(self) -> None:
        self.store.prepare()

    def put(self, key: str, source: Path, *, md5: bytes | None = None) -> None:
        self.store.put(key, source, md5=md5)

    def delete(self, key: str) -> None:
        self.store.delete(key)

    def stat(self, key: str) -> ObjectInfo | None:
        return self.store.stat(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.store.list(prefix)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips") / "a.h264", "h264")


def test_windows_read_in_order_and_refuse_a_replaced_object(
    swift_server: SwiftServer, tmp_path: Path
) -> None:
    base = new_store(swift_server)
    store = S3Store(
        swift_server.endpoint,
        base.bucket,
        S3Credentials(SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY),
        first_window=4096,
        window=16384,
        read_ahead=2,
    )
    data = os.urandom(300_000)
    source = tmp_path / "o"
    source.write_bytes(data)
    store.put("o", source)
    stream = store.open_range("o")
    got = [stream.read(size) for size in (1, 4095, 5000, 70_001)]
    got.append(stream.read())
    stream.close()
    assert b"".join(got) == data and [len(g) for g in got[:4]] == [1, 4095, 5000, 70_001]
    part = store.open_range("o", 1000, 250_000, first_end=200_000)
    assert part.read() == data[1000:250_000] and part.read(10) == b""
    part.close()
    assert store.open_range("o", 300_000).read() == b""
    # Replaced between the first window and the next: the later GETs carry If-Match.
    stream = store.open_range("o")
    assert stream.read(100) == data[:100]  # under half the first window: no read-ahead yet
    source.write_bytes(os.urandom(300_000))
    store.put("o", source)
    with pytest.raises(StoreUnavailable):
        stream.read()
    stream.close()


def _segments(tmp_path: Path, store: S3Store, clip: Clip, count: int) -> tuple[list[Segment], Path]:
    """``count`` contiguous 4 s segments of one camera, written and uploaded as a node does."""
    key_dir = tmp_path / "keys"
    create_vault_key(key_dir, FakeClock())
    key_id, public = load_vault_public_key(key_dir)
    local = tmp_path / "segments"
    (local / "cam01").mkdir(parents=True)
    segments = []
    for index in range(count):
        key, sealed = new_segment_key(public)
        path, start = f"cam01/{index}.seg", START_MS + index * 4000
        summary, size, digest, _ = write_segment(
            local / path, key, clip, first_frame=index * len(clip), start_ms=start
        )
        store.put("segments/" + path, local / path)
        segments.append(
            Segment(
                id=index + 1,
                camera_id="cam01",
                start_ms=start,
                end_ms=summary.end_ms,
                path=path,
                size_bytes=size,
                digest=digest,
                vault_key_id=key_id,
                sealed_key=sealed,
                codec="h264",
                width=summary.width,
                height=summary.height,
                frames=summary.frames,
                key_frames=summary.key_frames,
                created_ms=start,
                object_key="segments/" + path,
                local_copy=False,
            )
        )
    return segments, key_dir


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _uploaded(
    swift_server: SwiftServer, tmp_path: Path, clip: Clip, count: int
) -> tuple[list[Segment], PrivateKeyFileOpener, Recording]:
    """``count`` segments in a fresh bucket, their key opener, and the bucket's store with
    the ranges asked of it recorded."""
    store = new_store(swift_server)
    segments, key_dir = _segments(tmp_path, store, clip, count)
    return segments, PrivateKeyFileOpener(key_dir), Recording(store)


def test_a_seek_reads_the_tail_and_the_key_frame_on_and_the_next_segment_comes_ahead(
    swift_server: SwiftServer, tmp_path: Path, clip: Clip
) -> None:
    segments, opener, recording = _uploaded(swift_server, tmp_path, clip, 3)
    cache = ReadCache(tmp_path / "cache", 64 * 1024**2)
    files = SegmentFiles(tmp_path / "empty", recording, prefix="segments/", cache=cache)
    first, second, third = segments

    # 2.5 s into the first segment, to 1 s into the second: what local disk gives, byte for byte.
    at, until = first.start_ms + 2500, second.start_ms + 1000
    local = b"".join(build_fmp4(segments, at, until, opener, tmp_path / "segments"))
    remote = b"".join(build_fmp4(segments, at, until, opener, files))
    assert remote == local and local
    asked = [(start, end) for key, start, end in recording.asked if key == first.object_key]
    tail, jump = asked  # the footer and INDEX, then the stream from the key frame at 2 s
    assert tail == (first.size_bytes - 16 * 1024, first.size_bytes)
    assert first.size_bytes // 3 < jump[0] < first.size_bytes and jump[1] is None
    # The second segment was read ahead whole into the cache while the first played; the
    # player found it there (a hit), and nothing read the third (outside the range).
    assert [(s, e) for k, s, e in recording.asked if k == second.object_key] == [(0, None)]
    assert second.object_key and first.object_key
    assert second.object_key in cache and first.object_key not in cache
    assert (cache.misses, cache.hits) == (1, 1)
    assert not [k for k, _, _ in recording.asked if k == third.object_key]
    # A second seek into the first segment (the viewing service's first-frame probe, then its
    # stream; a viewer scrubbing) finds its tail in memory: one request, not two.
    before = len(recording.asked)
    probe = build_fmp4(segments, first.start_ms + 1500, first.start_ms + 1800, opener, files)
    assert b"".join(probe)
    ((key, start, end),) = recording.asked[before:]
    assert key == first.object_key and 0 < start < jump[0] and end is None
    # A seek into a cached segment reads the cached copy: the store is asked only for the
    # third segment, read ahead.
    before = len(recording.asked)
    again = build_fmp4(segments, second.start_ms + 2500, third.start_ms + 1000, opener, files)
    assert b"".join(again) and recording.asked[before:] == [(third.object_key, 0, None)]
    assert (cache.misses, cache.hits) == (2, 3)
    assert not list((tmp_path / "cache").glob(".*"))  # no partial download left behind


def test_warmed_tails_make_a_seek_one_request(
    swift_server: SwiftServer, tmp_path: Path, clip: Clip
) -> None:
    """A playback session opening a range warms its segments' tails: each seek into them then
    asks the store once (the stream from the key frame), not twice."""
    segments, opener, recording = _uploaded(swift_server, tmp_path, clip, 3)
    tails = TailCache()
    files = SegmentFiles(tmp_path / "empty", recording, prefix="segments/", tails=tails)
    assert files.warm_tails(segments) == 3
    wanted = [(s.object_key or "", s.size_bytes - 16 * 1024, s.size_bytes) for s in segments]
    _wait_for(lambda: all(tails.get(*w) is not None for w in wanted))
    assert sorted(recording.asked) == sorted(wanted)
    assert files.warm_tails(segments) == 0  # already in memory: nothing asked again
    for segment in segments:
        before = len(recording.asked)
        at = segment.start_ms + 2500
        local = b"".join(build_fmp4(segments, at, at + 500, opener, tmp_path / "segments"))
        assert b"".join(build_fmp4(segments, at, at + 500, opener, files)) == local
        ((key, start, end),) = recording.asked[before:]
        assert key == segment.object_key and start > 0 and end is None
    # A node holding the file, or a cached copy, warms nothing.
    assert (
        SegmentFiles(tmp_path / "segments", recording, prefix="segments/").warm_tails(segments) == 0
    )


def test_a_read_started_early_is_the_one_the_reader_takes(
    swift_server: SwiftServer, tmp_path: Path, clip: Clip
) -> None:
    segments, opener, recording = _uploaded(swift_server, tmp_path, clip, 2)
    first = segments[0]
    files = SegmentFiles(tmp_path / "empty", recording, prefix="segments/")
    files.open_early(first, first.start_ms)
    _wait_for(lambda: bool(recording.asked))
    assert recording.asked == [(first.object_key, 0, None)]
    local = b"".join(
        build_fmp4([first], first.start_ms, first.end_ms, opener, tmp_path / "segments")
    )
    remote = b"".join(build_fmp4([first], first.start_ms, first.end_ms, opener, files))
    assert remote == local and local
    assert recording.asked == [(first.object_key, 0, None)]  # taken, not asked for again
    # A seek into the segment reads its tail first (``warm_tails``), a node with the file
    # reads the file: neither starts anything.
    files.open_early(first, first.start_ms + 2500)
    SegmentFiles(tmp_path / "segments", recording, prefix="segments/").open_early(first)
    time.sleep(0.05)
    assert len(recording.asked) == 1


class _Stream:
    def __init__(self, closed: list[str], name: str) -> None:
        self.closed, self.name = closed, name

    def read(self, size: int = -1, /) -> bytes:
        return b""

    def close(self) -> None:
        self.closed.append(self.name)


def test_early_reads_nobody_takes_are_closed_and_bounded() -> None:
    closed: list[str] = []
    early = EarlyReads(ttl_s=0.2, most=2)
    assert early.start("a", lambda: _Stream(closed, "a"))
    assert not early.start("a", lambda: _Stream(closed, "a2"))  # one per key
    taken = early.take("a")
    stream = taken.result() if taken is not None else None
    assert isinstance(stream, _Stream) and stream.name == "a" and early.take("a") is None
    assert early.start("b", lambda: _Stream(closed, "b"))
    time.sleep(0.25)
    assert early.start("c", lambda: _Stream(closed, "c"))  # "b" is past its ttl: closed
    _wait_for(lambda: closed == ["b"])
    bounded = EarlyReads(most=1)
    assert bounded.start("x", lambda: _Stream(closed, "x"))
    assert not bounded.start("y", lambda: _Stream(closed, "y"))
    bounded.close()
    early.close()
    _wait_for(lambda: sorted(closed) == ["b", "c", "x"])
    assert "a" not in closed  # the taker owns it
