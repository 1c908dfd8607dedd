"""The segment store interface, run against the local directory and a real Swift (s3api)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.storage import (
    LocalDirStore,
    ObjectMissing,
    ReadCache,
    SegmentStore,
    StoreUnavailable,
)
from tests.support.swift import SwiftServer, new_store


@pytest.fixture(params=["local", pytest.param("swift", marks=pytest.mark.swift)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SegmentStore]:
    if request.param == "local":
        yield LocalDirStore(tmp_path / "objects")
    else:
        server: SwiftServer = request.getfixturevalue("swift_server")
        yield new_store(server)


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_put_read_ranges_stat_list_delete(store: SegmentStore, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    source = _file(tmp_path, "a.seg", data)
    keys = ["segments/cam-b/2026/03/01/2-x.seg", "segments/cam-a/2026/03/01/1-y.seg"]
    for key in keys:
        store.put(key, source, md5=hashlib.md5(data).digest())
    store.put("other/z.seg", _file(tmp_path, "z.seg", b"z"))

    whole = store.open_range(keys[0])
    try:
        assert whole.read(16) == data[:16]
        assert whole.read() == data[16:]
    finally:
        whole.close()
    part = store.open_range(keys[0], 1000, 1010)
    assert part.read() == data[1000:1010]
    part.close()
    tail = store.open_range(keys[0], 299_990)
    assert tail.read(100) == data[299_990:]
    tail.close()

    info = store.stat(keys[1])
    assert info is not None and info.size_bytes == len(data)
    assert store.stat("segments/none.seg") is None
    listed = [o.key for o in store.list("segments/")]
    assert listed == sorted(keys)  # byte-wise key order, prefix respected
    assert [o.size_bytes for o in store.list("other/")] == [1]

    store.delete(keys[0])
    store.delete(keys[0])  # idempotent: the purge may repeat it after a crash
    assert store.stat(keys[0]) is None
    with pytest.raises(ObjectMissing):
        store.open_range(keys[0])
    assert [o.key for o in store.list("segments/")] == [keys[1]]


def test_a_put_whose_bytes_differ_from_the_md5_is_refused(
    store: SegmentStore, tmp_path: Path
) -> None:
    source = _file(tmp_path, "a.seg", b"ciphertext" * 100)
    with pytest.raises(StoreUnavailable):
        store.put("segments/bad.seg", source, md5=hashlib.md5(b"something else").digest())
    assert store.stat("segments/bad.seg") is None


def test_put_replaces_and_never_shows_a_partial_object(store: SegmentStore, tmp_path: Path) -> None:
    store.put("k.seg", _file(tmp_path, "1", b"first"))
    store.put("k.seg", _file(tmp_path, "2", b"second version"))
    stream = store.open_range("k.seg")
    assert stream.read() == b"second version"
    stream.close()
    if isinstance(store, LocalDirStore):  # no temp file is left behind
        assert sorted(p.name for p in store.root.iterdir()) == ["k.seg"]


def test_unreachable_store_raises_store_unavailable(tmp_path: Path) -> None:
    from appliance.storage import S3Credentials, S3Store

    dead = S3Store("http://127.0.0.1:9", "b", S3Credentials("a", "b"), timeout_s=1.0)
    with pytest.raises(StoreUnavailable):
        dead.put("k", _file(tmp_path, "f", b"x"))
    with pytest.raises(StoreUnavailable):
        dead.open_range("k")
    with pytest.raises(StoreUnavailable):
        list(dead.list())


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_read_cache_keeps_complete_verified_objects_and_evicts_the_oldest(
    store: SegmentStore, tmp_path: Path
) -> None:
    blobs = {f"o{i}.seg": os.urandom(40_000) for i in range(4)}
    for key, data in blobs.items():
        store.put(key, _file(tmp_path, key, data))
    cache = ReadCache(tmp_path / "cache", max_bytes=100_000)
    fetches: list[str] = []

    def read(key: str, digest: str | None = None) -> bytes:
        def fetch() -> object:
            fetches.append(key)
            return store.open_range(key)

        data = blobs[key]
        stream = cache.open(key, len(data), digest or _digest(data), fetch)  # type: ignore[arg-type]
        try:
            return stream.read()
        finally:
            stream.close()

    assert read("o0.seg") == blobs["o0.seg"]
    assert read("o0.seg") == blobs["o0.seg"]
    assert fetches == ["o0.seg"] and cache.hits == 1
    read("o1.seg")
    read("o0.seg")  # o0 is now the most recently used
    read("o2.seg")  # 120 kB > 100 kB: the least recently used (o1) goes
    assert "o1.seg" not in cache and "o0.seg" in cache and "o2.seg" in cache
    assert cache.size_bytes <= 100_000
    # A copy whose digest is not the row's is served (the reader will refuse it) but not kept.
    read("o3.seg", digest=_digest(b"not it"))
    assert "o3.seg" not in cache
    # A reader that stops early does not leave a partial copy behind.
    stream = cache.open(
        "o3.seg", 40_000, _digest(blobs["o3.seg"]), lambda: store.open_range("o3.seg")
    )
    stream.read(100)
    stream.close()
    assert "o3.seg" not in cache
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]
    # The order survives a restart (rebuilt from the files' times).
    again = ReadCache(tmp_path / "cache", max_bytes=100_000)
    assert "o0.seg" in again and again.size_bytes == cache.size_bytes
