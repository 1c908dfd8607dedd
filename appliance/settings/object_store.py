"""The object-store fields of ``[storage]`` (issue 19): where segments go once complete.

A mixin of ``StorageConfig`` (``appliance.settings.sections``), kept in its own module so the
section's local-disk fields and these stay small. design/storage.md, "Object store".
No secret is ever a setting: the access key comes from ``object_credentials_file`` or the
environment (``appliance.storage.credentials``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

__all__ = ["ObjectStoreFields"]


class ObjectStoreFields(BaseModel):
    """Segments in an S3-compatible object store, uploaded once complete."""

    backend: Literal["local", "s3"] = Field(
        default="local",
        description="`local`: segments stay in the data dir. `s3`: each complete segment is "
        "also uploaded to the object store, and playback reads from either.",
    )
    object_endpoint: str = Field(
        default="",
        description="S3 endpoint URL (`https://s3.example:443`; plain `http://` only on "
        'loopback or a closed storage network). Required with `backend = "s3"`.',
    )
    object_bucket: str = Field(
        default="",
        pattern=r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$",
        description="The bucket segments go to (created if missing).",
    )
    object_prefix: str = Field(
        default="segments/",
        pattern=r"^([A-Za-z0-9_.-]+/)*$",
        description="Key prefix in the bucket; the segment's path follows it.",
    )
    object_region: str = Field(default="us-east-1", description="Region for request signing.")
    object_credentials_file: Path | None = Field(
        default=None,
        description="File with `access_key_id = ...` and `secret_access_key = ...` (mode "
        "0600). Unset: the environment variables `APPLIANCE_S3_ACCESS_KEY_ID` and "
        "`APPLIANCE_S3_SECRET_ACCESS_KEY`.",
    )
    cache_max_bytes: int = Field(
        default=2 * 1024**3,
        ge=0,
        description="Bound of the local read cache of objects (ciphertext, least recently "
        "used first out). 0: no cache.",
    )
    local_copy: Literal["keep", "drop_after_upload"] = Field(
        default="keep",
        description="After a segment is uploaded: `keep` its local file until the purge (or "
        "until disk pressure drops it), or `drop_after_upload` at once.",
    )
    upload_retry_max_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Longest wait between upload attempts of a segment (backoff from 1 s).",
    )

    @model_validator(mode="after")
    def _s3_complete(self) -> ObjectStoreFields:
        if self.backend == "s3":
            if not self.object_endpoint.startswith(("http://", "https://")):
                raise ValueError("object_endpoint must be an http(s) URL with backend = 's3'")
            if not self.object_bucket:
                raise ValueError("object_bucket is required with backend = 's3'")
        return self
