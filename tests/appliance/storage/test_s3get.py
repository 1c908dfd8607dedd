"""Ranged GETs by presigned URL (``s3get.PresignedGets``) against a real Swift (s3api)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from appliance.storage import ObjectMissing, S3Credentials, S3Store, StoreUnavailable
from appliance.storage.s3get import PresignedGets
from tests.support.swift import SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY, SwiftServer, new_store

pytestmark = pytest.mark.swift


def _one_connection_store(server: SwiftServer, tmp_path: Path, data: bytes) -> S3Store:
    bucket = new_store(server).bucket
    store = S3Store(
        server.endpoint,
        bucket,
        S3Credentials(SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY),
        connections=1,
        first_window=64 * 1024,
        window=64 * 1024,
        read_ahead=1,
    )
    source = tmp_path / "o"
    source.write_bytes(data)
    store.put("o", source)
    return store


def test_a_stream_closed_early_does_not_hand_its_leftover_bytes_to_the_next_read(
    swift_server: SwiftServer, tmp_path: Path
) -> None:
    data = os.urandom(400_000)
    store = _one_connection_store(swift_server, tmp_path, data)
    for start in (0, 1000, 150_000, 399_990):
        early = store.open_range("o", start)
        assert early.read(10) == data[start : start + 10]
        early.close()  # most of its window is still on the wire
        whole = store.open_range("o", start, start + 70_000)
        assert whole.read() == data[start : start + 70_000]
        whole.close()
    gets: PresignedGets = store._gets
    answers = [gets.get("o", n * 1000, n * 1000 + 100) for n in range(20)]
    assert [a.body.read() for a in answers] == [data[n * 1000 : n * 1000 + 100] for n in range(20)]
    for answer in answers:
        answer.body.close()


def test_one_url_serves_every_range_and_an_expired_one_is_signed_again(
    swift_server: SwiftServer, tmp_path: Path
) -> None:
    data = os.urandom(50_000)
    store = _one_connection_store(swift_server, tmp_path, data)
    gets: PresignedGets = store._gets
    first = gets._url("o")
    assert all(gets._url("o") == first for _ in range(5))
    # A URL that expired in the store's eyes (signed for 1 s, kept as if still fresh):
    # the GET is refused with 403, signed anew once, and answers.
    stale = store._client.generate_presigned_url(
        "get_object", Params={"Bucket": store.bucket, "Key": "o"}, ExpiresIn=1
    )
    parts = urlsplit(stale)
    time.sleep(2.1)
    gets._urls["o"] = (time.monotonic() + 600, f"{parts.path}?{parts.query}")
    answer = gets.get("o", 10, 20)
    assert answer.body.read() == data[10:20] and answer.total == len(data)
    answer.body.close()
    assert gets._urls["o"][1] != f"{parts.path}?{parts.query}"


def test_refusals_name_what_went_wrong(swift_server: SwiftServer, tmp_path: Path) -> None:
    data = os.urandom(10_000)
    store = _one_connection_store(swift_server, tmp_path, data)
    gets: PresignedGets = store._gets
    with pytest.raises(ObjectMissing):
        gets.get("absent", 0, 10)
    empty = gets.get("o", 10_000, 10_010)  # at the end: no bytes, not an error
    assert empty.body.read() == b""
    with pytest.raises(StoreUnavailable, match="changed while it was read"):
        gets.get("o", 0, 10, if_match='"not-the-etag"')
    wrong = S3Store(
        swift_server.endpoint, store.bucket, S3Credentials(SWIFT_ACCESS_KEY, "not the secret")
    )
    with pytest.raises(StoreUnavailable, match="403"):
        wrong.open_range("o")
    # The connection is still good after every refusal.
    answer = gets.get("o", 0, 100)
    assert answer.body.read() == data[:100]
    answer.body.close()


def test_a_closed_reader_stops_its_read_ahead_windows_midway(
    swift_server: SwiftServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(12 << 20)
    store = S3Store(
        swift_server.endpoint,
        new_store(swift_server).bucket,
        S3Credentials(SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY),
        first_window=1 << 20,
        window=8 << 20,
        read_ahead=1,
    )
    source = tmp_path / "o"
    source.write_bytes(data)
    store.put("o", source)
    got: list[int] = []
    read_window = store._get_bytes

    def counted(*args: Any) -> bytes:
        window = read_window(*args)
        got.append(len(window))
        return window

    monkeypatch.setattr(store, "_get_bytes", counted)
    stream = store.open_range("o")
    assert stream.read(900_000) == data[:900_000]  # past three quarters: a 4 MiB window starts
    stream.close()  # a viewer who dropped the request
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got == [0]  # stopped, not read whole
    # An open reader still gets every window whole.
    stream = store.open_range("o")
    assert stream.read() == data
    stream.close()
    assert got[1:] == [4 << 20, 7 << 20]
