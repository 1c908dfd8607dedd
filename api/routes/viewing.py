"""Purpose-bound viewing: open a session (ledger first), stream recorded or live fMP4, end it.

Only the roles that can ever see footage are admitted (an auditor or agency never is); which
cameras a person may open is decided by ``appliance.viewing`` from their grants.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.deps import CameraQuery, RowId, ViewingDep, require
from api.schemas.viewing import PurposeChoice, ViewingIn, ViewingOut, viewing_out
from appliance.access import Permission, Principal
from appliance.viewing import LABELS_KO, MediaStream, PurposeCategory, make_purpose

__all__ = ["router"]

router = APIRouter(prefix="/api/viewing", tags=["viewing"])

_Viewer = Annotated[Principal, Depends(require(Permission.view_footage))]
_MP4_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
        "description": "Fragmented MP4, streamed.",
    }
}


async def _body(stream: MediaStream) -> AsyncIterator[bytes]:
    # Each chunk is made in a worker thread (decrypting, muxing, waiting for live packets);
    # when the client goes away the stream is closed there, which records what was sent.
    iterator = iter(stream)
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, iterator, None)
            if chunk is None:
                return
            yield chunk
    finally:
        stream.stop()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(stream.close)


def _streaming(stream: MediaStream) -> StreamingResponse:
    return StreamingResponse(
        _body(stream),
        media_type=stream.content_type,
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Viewing-Span": str(stream.span_id),
            "X-Source-Codec": stream.codec,
            "X-Transcoded": "1" if stream.transcoded else "0",
        },
    )


@router.get("/purposes", response_model=list[PurposeChoice])
def purposes(principal: _Viewer) -> list[PurposeChoice]:
    """The fixed list of purposes a viewing session is opened for."""
    return [
        PurposeChoice(
            category=c,
            label=LABELS_KO[c],
            needs="request_id" if c is PurposeCategory.request else "text",
        )
        for c in PurposeCategory
    ]


@router.post("", response_model=ViewingOut, status_code=201)
def open_viewing(body: ViewingIn, principal: _Viewer, viewing: ViewingDep) -> ViewingOut:
    """Open a viewing session; its ledger entry is written first (503 if it cannot be)."""
    purpose = make_purpose(
        body.purpose.category.value if body.purpose.category else None,
        body.purpose.text,
        body.purpose.request_id,
    )
    opened = viewing.open(
        principal,
        kind=body.kind,
        cameras=body.cameras,
        purpose=purpose,
        start_ms=body.start_ms,
        end_ms=body.end_ms,
    )
    return viewing_out(opened)


@router.get("", response_model=list[ViewingOut])
def list_viewing(
    principal: _Viewer,
    viewing: ViewingDep,
    open_only: Annotated[bool, Query(description="Only sessions not yet ended.")] = True,
) -> list[ViewingOut]:
    """Your viewing sessions (the video officer: everyone's)."""
    return [viewing_out(v) for v in viewing.list_sessions(principal, open_only=open_only)]


@router.get("/{viewing_id}", response_model=ViewingOut)
def get_viewing_session(viewing_id: RowId, principal: _Viewer, viewing: ViewingDep) -> ViewingOut:
    """A viewing session and what was streamed from it."""
    return viewing_out(viewing.get(principal, viewing_id), viewing.spans(principal, viewing_id))


@router.post("/{viewing_id}/end", response_model=ViewingOut)
def end_viewing(viewing_id: RowId, principal: _Viewer, viewing: ViewingDep) -> ViewingOut:
    """End the session; what was watched goes into the ledger."""
    ended = viewing.end(principal, viewing_id)
    return viewing_out(ended, viewing.spans(principal, viewing_id))


@router.get("/{viewing_id}/media", response_class=StreamingResponse, responses=_MP4_RESPONSE)
def recorded_media(
    viewing_id: RowId,
    camera_id: CameraQuery,
    principal: _Viewer,
    viewing: ViewingDep,
    start_ms: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    end_ms: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    transcode: Annotated[
        bool | None, Query(description="Force (or forbid) H.264; default: only for H.265.")
    ] = None,
) -> StreamingResponse:
    """Recorded footage of one camera as fragmented MP4, from the key frame at or before
    ``start_ms`` (seeking) to ``end_ms``, within the session's range."""
    stream = viewing.recorded(
        principal, viewing_id, camera_id, start_ms=start_ms, end_ms=end_ms, transcode=transcode
    )
    return _streaming(stream)


@router.get("/{viewing_id}/live", response_class=StreamingResponse, responses=_MP4_RESPONSE)
def live_media(
    viewing_id: RowId,
    camera_id: CameraQuery,
    principal: _Viewer,
    viewing: ViewingDep,
    transcode: Annotated[
        bool | None,
        Query(description="False: the player plays H.265 as sent; default: H.265 as H.264."),
    ] = None,
) -> StreamingResponse:
    """Live view of one camera as fragmented MP4 (chunked), from the camera's current GOP
    (its last key frame) on."""
    return _streaming(viewing.live_stream(principal, viewing_id, camera_id, transcode=transcode))
