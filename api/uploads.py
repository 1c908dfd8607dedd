"""Multipart uploads parsed in memory (documents of footage requests).

Starlette spools any upload above 1 MiB to a temporary file, in clear; ID copies and official
letters must never touch the disk unencrypted, so the routes read their multipart body here,
with the parser's spool limit raised above the size cap and the stream cut beyond it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi import Request
from starlette.formparsers import MultiPartException, MultiPartParser

from appliance.errors import ValidationFailed
from appliance.requests import DocumentKind, Upload
from appliance.requests.workflow import document_type

__all__ = ["multipart_body", "read_upload"]


class _InMemoryParser(MultiPartParser):
    # Starlette spools uploads above 1 MiB to a temporary file, in clear. Documents (ID
    # copies, official letters) stay in memory instead; the body size is capped below this.
    spool_max_size = 64 * 1024 * 1024


async def _capped(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise ValidationFailed(f"the upload exceeds {limit} bytes")
        yield chunk


async def read_upload(
    http_request: Request, *, file_field: str, max_bytes: int
) -> tuple[dict[str, str], Upload | None]:
    """Parse a multipart body in memory: its text fields and its one file (not yet typed)."""
    if not http_request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ValidationFailed("send multipart/form-data")
    limit = min(max_bytes + 256 * 1024, _InMemoryParser.spool_max_size)
    parser = _InMemoryParser(
        http_request.headers,
        _capped(http_request.stream(), limit),
        max_files=1,
        max_fields=8,
        max_part_size=64 * 1024,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ValidationFailed(f"bad multipart body: {exc.message}") from exc
    fields: dict[str, str] = {}
    upload: Upload | None = None
    try:
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields[key] = value
            elif key == file_field:
                data = await value.read()
                # The content decides the type, not the sender's claim (check_upload refuses
                # anything but PDF, JPEG and PNG).
                media_type = document_type(data) or value.content_type or ""
                upload = Upload(DocumentKind.other, value.filename or "document", media_type, data)
    finally:
        await form.close()
    return fields, upload


def multipart_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads its multipart form itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": properties, "required": required}
                }
            },
        }
    }
