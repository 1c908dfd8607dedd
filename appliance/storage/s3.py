"""``S3Store``: segments in an S3-compatible object store, through boto3.

Why boto3 (and not obstore): it is the client S3-compatible servers test against (OpenStack
Swift's s3api functional tests, Ceph RGW's s3-tests, MinIO's mint), it is synchronous like the
appliance's daemons, and it streams a ranged GET as it arrives. design/storage.md says more.
Ranged reads go by URLs boto3 presigns, over urllib3 (``s3get``): a viewer's first picture
waits for one of them, and boto3's own request path costs about 2 ms more each.
Two settings matter with non-AWS servers: path-style addressing (no bucket DNS names on a
closed network) and checksums only when required (boto3 ≥ 1.36 otherwise sends CRC32
trailers that Swift 2.30's s3api refuses); integrity is kept by ``Content-MD5`` on every PUT
instead, which the server checks before it stores the object.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from appliance.storage.base import ByteStream, ObjectInfo, StoreUnavailable
from appliance.storage.credentials import S3Credentials
from appliance.storage.s3get import PresignedGets, ResponseBody

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Store"]

_MISSING = {"404", "NoSuchKey", "NotFound"}
_CHUNK = 256 * 1024  # a read-ahead window arrives in these, checking whether it is still wanted


def file_md5(path: Path) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


class _Windows:
    """Bytes ``[start, end)`` of an object as consecutive ranged GETs, consumed in order.

    The first window (or what the caller said it needs at once: a seek asks for the key
    frame's group of pictures) is streamed as it arrives; each later window is fetched whole
    by the store's pool, ``read_ahead`` of them in flight while the reader decrypts the
    current one; memory is bounded by ``read_ahead * window``. Why these sizes: through Swift
    the first byte of a ranged GET came later the larger the range (10 ms for 16 KiB to
    1 MiB, 23 ms for 4 MiB, 15-20 ms for a whole 30 MB object), and a first window of 1.5 MiB
    holds a 4 Mbit/s camera's first 2 s group of pictures and the key frame that closes it, so
    the first fragment needs one request (measured: 19 ms to it against 51 ms with a 256 KiB
    first window and 76 ms with 4 MiB later windows). The read-ahead
    starts once three quarters of the first window are read: a reader that stops early (a
    probe, a viewer who closed at once) costs the store no more than that window, and the
    first bytes do not compete with read-ahead GETs (with Swift on the same cores they did:
    bench/RESULTS.md). Later windows
    carry ``If-Match`` with the first answer's ETag, so an object replaced mid-read fails
    instead of mixing two versions.
    """

    def __init__(
        self, store: S3Store, key: str, start: int, end: int | None, first_end: int | None
    ) -> None:
        self._store, self._key = store, key
        first_end = max(start + store.first_window, first_end or 0)
        if end is not None:
            first_end = min(first_end, end)
        answer = store._gets.get(key, start, first_end)
        self._etag = answer.etag
        self._end = answer.total if end is None else min(end, answer.total)
        self._current: ResponseBody | io.BytesIO = answer.body
        self._next = min(first_end, self._end)  # where the next window starts
        self._size = store.first_window
        self._pending: deque[Future[bytes]] = deque()
        self._dropped = threading.Event()  # set by close: running window reads stop
        self._until_fill = (first_end - start) * 3 // 4  # bytes read before the read-ahead

    def _fill(self) -> None:
        while len(self._pending) < self._store.read_ahead and self._next < self._end:
            self._size = min(self._size * 4, self._store.window)
            stop = min(self._next + self._size, self._end)
            self._pending.append(
                self._store._pool().submit(
                    self._store._get_bytes, self._key, self._next, stop, self._etag, self._dropped
                )
            )
            self._next = stop

    def _advance(self) -> bool:
        """Move to the next window; False at the end."""
        if not self._pending:
            return False
        data = self._pending.popleft().result()
        self._current.close()
        self._current = io.BytesIO(data)
        self._fill()
        return True

    def read(self, size: int = -1, /) -> bytes:
        parts: list[bytes] = []
        left = size if size is not None and size >= 0 else -1
        while left != 0:
            chunk = self._current.read(left)
            if chunk:
                parts.append(chunk)
                if self._until_fill > 0:
                    self._until_fill -= len(chunk)
                    if self._until_fill <= 0:
                        self._fill()
                if left > 0:
                    left -= len(chunk)
                    continue
            self._fill()
            if left != 0 and not self._advance():
                break
        return b"".join(parts)

    def close(self) -> None:
        self._dropped.set()
        for future in self._pending:
            future.cancel()  # a running one stops at its next chunk (``_dropped``)
        self._pending.clear()
        self._current.close()


class S3Store:
    """One bucket of an S3 endpoint. Keys are used as given (the caller adds the prefix)."""

    kind = "s3"

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        credentials: S3Credentials,
        *,
        region: str = "us-east-1",
        timeout_s: float = 30.0,
        connections: int = 16,
        first_window: int = 1536 * 1024,
        window: int = 1024 * 1024,
        read_ahead: int = 3,
    ) -> None:
        """``first_window``, ``window`` and ``read_ahead`` shape reads (``_Windows``)."""
        self.endpoint = endpoint
        self.bucket = bucket
        self.first_window, self.window, self.read_ahead = first_window, window, read_ahead
        self._connections = connections
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        config = Config(
            region_name=region,
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            connect_timeout=min(timeout_s, 5.0),
            read_timeout=timeout_s,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=connections,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            config=config,
        )
        self._gets = PresignedGets(
            self._client, bucket, endpoint, connections=connections, timeout_s=timeout_s
        )

    def prepare(self) -> None:
        self.ensure_bucket()

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in _MISSING and _code(exc) != "NoSuchBucket":
                raise StoreUnavailable(f"bucket {self.bucket}: {exc}") from exc
            try:
                self._client.create_bucket(Bucket=self.bucket)
            except (BotoCoreError, ClientError) as create_exc:
                raise StoreUnavailable(f"bucket {self.bucket}: {create_exc}") from create_exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"bucket {self.bucket}: {exc}") from exc

    def put(self, key: str, source: Path, *, md5: bytes | None = None) -> None:
        try:
            checksum = md5 if md5 is not None else file_md5(source)
            with source.open("rb") as body:
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentLength=source.stat().st_size,
                    ContentMD5=base64.b64encode(checksum).decode(),
                    ContentType="application/octet-stream",
                )
        except (BotoCoreError, ClientError, OSError) as exc:
            raise StoreUnavailable(f"put {key}: {exc}") from exc

    def open_range(
        self, key: str, start: int = 0, end: int | None = None, *, first_end: int | None = None
    ) -> ByteStream:
        if end is not None and end <= start:
            return io.BytesIO(b"")
        return _Windows(self, key, start, end, first_end)

    def _get_bytes(
        self, key: str, start: int, end: int, if_match: str, dropped: threading.Event
    ) -> bytes:
        """Bytes ``[start, end)`` whole; nothing if ``dropped`` is set while they arrive (the
        reader closed: the rest is not read and its connection is dropped, so the store stops
        sending instead of pushing a window nobody will read)."""
        body = self._gets.get(key, start, end, if_match).body
        parts: list[bytes] = []
        try:
            while chunk := body.read(_CHUNK):
                parts.append(chunk)
                if dropped.is_set():
                    return b""
        finally:
            body.close()
        data = b"".join(parts)
        if len(data) != end - start:
            raise StoreUnavailable(f"get {key}: {len(data)} bytes where {end - start} were asked")
        return data

    def _pool(self) -> ThreadPoolExecutor:
        """The threads that fetch read-ahead windows (made at first use, one per store)."""
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._connections, thread_name_prefix="s3-read"
                )
            return self._executor

    def delete(self, key: str) -> None:
        try:
            self._gets.forget(key)
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise StoreUnavailable(f"delete {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"delete {key}: {exc}") from exc

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            answer = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise StoreUnavailable(f"head {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"head {key}: {exc}") from exc
        return ObjectInfo(key, int(answer["ContentLength"]))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"], int(item["Size"]))
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailable(f"list {prefix!r}: {exc}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
