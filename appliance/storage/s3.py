"""``S3Store``: segments in an S3-compatible object store, through boto3.

Why boto3 (and not obstore): it is the client S3-compatible servers test against (OpenStack
Swift's s3api functional tests, Ceph RGW's s3-tests, MinIO's mint), it is synchronous like the
appliance's daemons, and it streams a ranged GET as it arrives. design/storage.md says more.
Two settings matter with non-AWS servers: path-style addressing (no bucket DNS names on a
closed network) and checksums only when required (boto3 ≥ 1.36 otherwise sends CRC32
trailers that Swift 2.30's s3api refuses); integrity is kept by ``Content-MD5`` on every PUT
instead, which the server checks before it stores the object.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from appliance.storage.base import ByteStream, ObjectInfo, ObjectMissing, StoreUnavailable
from appliance.storage.credentials import S3Credentials

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Store"]

_MISSING = {"404", "NoSuchKey", "NotFound"}


def file_md5(path: Path) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


class _Body:
    """A GET's body as a ``ByteStream``: ``read(n)`` returns n bytes unless the object ends,
    and network errors become ``StoreUnavailable``."""

    def __init__(self, key: str, body: Any) -> None:
        self._key = key
        self._body = body

    def read(self, size: int = -1, /) -> bytes:
        try:
            if size is None or size < 0:
                return bytes(self._body.read())
            parts: list[bytes] = []
            left = size
            while left > 0:
                chunk = self._body.read(left)
                if not chunk:
                    break
                parts.append(chunk)
                left -= len(chunk)
            return b"".join(parts)
        except (BotoCoreError, OSError) as exc:
            raise StoreUnavailable(f"{self._key}: {exc}") from exc

    def close(self) -> None:
        self._body.close()


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
    ) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
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

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> ByteStream:
        try:
            if start or end is not None:
                last = "" if end is None else str(end - 1)
                answer = self._client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes={start}-{last}"
                )
            else:
                answer = self._client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectMissing(key) from exc
            raise StoreUnavailable(f"get {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"get {key}: {exc}") from exc
        return _Body(key, answer["Body"])

    def delete(self, key: str) -> None:
        try:
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
