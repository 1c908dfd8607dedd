"""Ranged GETs of an S3 bucket by presigned URL over a urllib3 connection pool.

Why not boto3's ``get_object`` for reads: a viewer's first picture from the store waits for
exactly one ranged GET, and boto3's request machinery (parameter validation, the event chain,
signing, response parsing) added 2.0-2.6 ms to the time to that GET's headers against Swift on
this 2-core machine (8.7-9.3 ms against 10.7-11.7 ms, bench/RESULTS.md). Here each object's URL
is signed once by botocore's own SigV4 presigner (0.3 ms) and reused for half its lifetime:
``Range`` and ``If-Match`` are not part of a query-string signature, so one URL serves every
range of the object. The transport is urllib3, the pool botocore itself runs on. Writes,
deletes, lists and stats stay on boto3. A presigned URL is a bearer credential for one
ciphertext object; it lives only in this process's memory and is never logged.
"""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import urllib3
from botocore.exceptions import BotoCoreError
from urllib3.exceptions import HTTPError

from appliance.storage.base import ObjectMissing, StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Answer", "PresignedGets", "ResponseBody"]

_RETRY_STATUSES = (500, 502, 503, 504)


class ResponseBody:
    """A GET's body as a ``ByteStream``: ``read(n)`` returns n bytes unless the object ends;
    a transport error becomes ``StoreUnavailable``. Closing it early drops the connection
    (the rest of the range is not read); a body read to its end gives it back to the pool."""

    def __init__(self, key: str, response: urllib3.BaseHTTPResponse | None) -> None:
        self._key = key
        self._response = response

    def read(self, size: int = -1, /) -> bytes:
        response = self._response
        if response is None:
            return b""
        try:
            if size is None or size < 0:
                return bytes(response.read())
            parts: list[bytes] = []
            left = size
            while left > 0:
                chunk = response.read(left)
                if not chunk:
                    break
                parts.append(chunk)
                left -= len(chunk)
            return b"".join(parts)
        except (HTTPError, OSError) as exc:
            raise StoreUnavailable(f"get {self._key}: {exc}") from exc

    def close(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            _release(response)


@dataclass(frozen=True)
class Answer:
    """A GET's answer before its body is read."""

    etag: str
    total: int  # the object's size
    body: ResponseBody | io.BytesIO


class PresignedGets:
    """Ranged GETs of one bucket. Safe to call from several threads."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        endpoint: str,
        *,
        connections: int,
        timeout_s: float,
        lifetime_s: int = 900,
        entries: int = 4096,
    ) -> None:
        self._client, self._bucket = client, bucket
        self._lifetime_s, self._entries = lifetime_s, entries
        self._urls: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = urllib3.connection_from_url(
            endpoint,
            maxsize=connections,
            block=False,
            timeout=urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s),
            retries=urllib3.Retry(
                total=2,
                redirect=False,
                status_forcelist=_RETRY_STATUSES,
                allowed_methods=frozenset({"GET"}),
                backoff_factor=0.05,
                raise_on_status=False,
            ),
        )

    def _url(self, key: str, *, fresh: bool = False) -> str:
        """The path and query of ``key``'s presigned GET (signed anew past half its life)."""
        now = time.monotonic()
        with self._lock:
            known = self._urls.get(key)
            if known is not None and known[0] > now and not fresh:
                self._urls.move_to_end(key)
                return known[1]
        try:
            url = self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=self._lifetime_s,
            )
        except BotoCoreError as exc:
            raise StoreUnavailable(f"get {key}: {exc}") from exc
        parts = urlsplit(url)
        target = f"{parts.path}?{parts.query}"
        with self._lock:
            self._urls[key] = (now + self._lifetime_s / 2, target)
            self._urls.move_to_end(key)
            while len(self._urls) > self._entries:
                self._urls.popitem(last=False)
        return target

    def forget(self, key: str) -> None:
        """Drop ``key``'s URL (the object was deleted)."""
        with self._lock:
            self._urls.pop(key, None)

    def get(self, key: str, start: int, end: int, if_match: str = "") -> Answer:
        """One ranged GET ``[start, end)``; its answer, the body not read yet.

        ``ObjectMissing`` for a key that is not there; ``StoreUnavailable`` for a refusal,
        a server error after retries, an object replaced since ``if_match``'s ETag, or no
        answer. A start at or past the end of the object gives an empty body.
        """
        headers = {"Range": f"bytes={start}-{end - 1}"}
        if if_match:
            headers["If-Match"] = if_match
        response = self._send(key, headers)
        if response.status == 403:  # expired or signed with old credentials: sign once more
            _release(response)
            response = self._send(key, headers, fresh=True)
        status = response.status
        if status in (200, 206):
            total = _total_size(response.headers, start, status)
            if status == 200 and start != 0:
                _release(response)
                raise StoreUnavailable(f"get {key}: the server ignored the range")
            return Answer(str(response.headers.get("ETag", "")), total, ResponseBody(key, response))
        reason = _drain(response)
        if status == 404:
            raise ObjectMissing(key)
        if status == 416:
            return Answer("", start, io.BytesIO(b""))
        if status == 412:
            raise StoreUnavailable(f"get {key}: the object changed while it was read")
        raise StoreUnavailable(f"get {key}: HTTP {status} {reason}")

    def _send(
        self, key: str, headers: dict[str, str], *, fresh: bool = False
    ) -> urllib3.BaseHTTPResponse:
        try:
            return self._pool.urlopen(
                "GET", self._url(key, fresh=fresh), headers=headers, preload_content=False
            )
        except HTTPError as exc:
            raise StoreUnavailable(f"get {key}: {exc}") from exc


def _total_size(headers: Any, start: int, status: int) -> int:
    """The object's size (``Content-Range: bytes a-b/total`` when ranged)."""
    content_range = str(headers.get("Content-Range") or "")
    if status == 206 and "/" in content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    return start + int(headers.get("Content-Length") or 0)


def _drain(response: urllib3.BaseHTTPResponse) -> str:
    """Read a refusal's (short) body for its S3 error code, and free the connection."""
    try:
        text = response.read(4096).decode("utf-8", "replace")
    except (HTTPError, OSError):
        text = ""
    finally:
        _release(response)
    code = text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""
    return code or str(response.reason or "")


def _release(response: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back to the pool, or drop it if the body was not read to its end
    (its socket still carries the rest: a reuse would read it as the next answer)."""
    if response.length_remaining != 0:
        response.close()
    response.release_conn()
