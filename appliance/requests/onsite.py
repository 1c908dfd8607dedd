"""The on-site viewing room (R-REQ-6): the requester watches the masked copy prepared for the
request, never the raw footage, on the appliance's screen with the officer present.

Rules kept here:

- A room shows only a masked copy of a viewing request: without one (none made, or every one
  destroyed) there is no on-site viewing of footage that shows other people (``Conflict``
  naming the reason).
- The ledger's ``masking`` says what was applied to the copy played, read from the export
  (``masking_applied``), never what a caller claims.
- The copy's bytes leave the appliance only after the ``onsite_viewing`` entry naming that
  copy is in the ledger, and only for ``PLAY_WINDOW_MS`` after it (invariant 5): a later
  showing is another on-site viewing.

The package is opened in memory with the vault's copy of its key (``request_export``); only
the MP4 members of its manifest are served.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from appliance.errors import Conflict, NotFound, VaultLocked
from appliance.export.package import open_package
from appliance.ledger import EventType
from appliance.models import FootageRequest, RequestExport
from appliance.requests._stage import Stage, ref
from appliance.requests.kinds import Fulfilment, RequestKind, RequestState

__all__ = [
    "PLAY_WINDOW_MS",
    "OnsiteRoom",
    "RoomCopy",
    "masking_applied",
    "may_play",
    "room_refusal",
]

#: How long after the on-site viewing is recorded its copy may be played (a session at the
#: desk); a later showing is recorded again.
PLAY_WINDOW_MS = 3 * 3_600_000


def masking_applied(export: RequestExport) -> bool:
    """Whether the copy was masked: the masking pipeline obscured at least one box."""
    return export.masked_boxes > 0


def may_play(recorded_ms: int, now_ms: int) -> bool:
    """Whether a copy whose on-site viewing was recorded at ``recorded_ms`` plays now."""
    return recorded_ms <= now_ms < recorded_ms + PLAY_WINDOW_MS


def room_refusal(request: FootageRequest, copies: list[RequestExport]) -> str:
    """Why the room cannot show this request's footage ("" when it can)."""
    if request.kind != RequestKind.viewing.value:
        return f"request {request.id} asks for {request.kind}, not viewing"
    if request.state == RequestState.closed.value:
        return f"request {request.id} is closed"
    if request.state not in (RequestState.notified.value, RequestState.fulfilled.value):
        return "the decision must be notified before the on-site viewing"
    if not copies:
        return (
            "no masked copy has been prepared for this request: others in the footage are "
            "shown masked only (R-REQ-5); prepare the masked copy first"
        )
    return ""


@dataclass(frozen=True)
class RoomCopy:
    """One video of a masked copy, decrypted in memory."""

    export_id: str
    name: str
    camera_id: str
    mp4: bytes


class OnsiteRoom(Stage):
    """The copies a room may show, and playing one after its viewing is recorded."""

    def copies(self, request_id: int) -> list[RequestExport]:
        """The request's copies that still exist (newest first)."""
        with self._ctx.db.session() as session:
            self._load(session, request_id)
            return _live_copies(session, request_id)

    def room_copy(self, session: Session, request: FootageRequest, export_id: str) -> RequestExport:
        """The copy to show, or Conflict with the reason there is none to show."""
        assert request.id is not None
        copies = _live_copies(session, request.id)
        if reason := room_refusal(request, copies):
            raise Conflict(reason)
        chosen = next((c for c in copies if c.id == export_id), None)
        if chosen is None:
            raise NotFound(f"no masked copy {export_id} on request {request.id}")
        return chosen

    def play(self, request_id: int, export_id: str, index: int) -> RoomCopy:
        """Video ``index`` of the copy, once its on-site viewing is in the ledger."""
        vault = self._ctx.vault
        if not vault.is_unlocked:
            raise VaultLocked("the vault is locked: the copy cannot be opened")
        now = self._now()
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            if request.fulfilment != Fulfilment.onsite_viewing.value:
                raise Conflict("record the on-site viewing before the copy is played")
            if request.state == RequestState.closed.value:
                raise Conflict(f"request {request_id} is closed")
            export = session.get(RequestExport, export_id)
            if export is None or export.request_id != request_id:
                raise NotFound(f"no masked copy {export_id} on request {request_id}")
            if export.destroyed_ms is not None or export.sealed_key is None:
                raise Conflict(f"the copy {export_id} was destroyed")
        recorded = [
            e.ts_ms
            for e in self._ctx.ledger.entries(
                refs=[ref(request)], events=[EventType.onsite_viewing], limit=None
            )
            if e.data.get("export_id") == export_id
        ]
        if not recorded or not may_play(max(recorded), now):
            raise Conflict("record the on-site viewing of this copy before it is played")
        data = (self._ctx.settings.exports_dir / export.file).read_bytes()
        key = vault.open_segment_key(export.vault_key_id, export.sealed_key)
        contents = open_package(data, file_key=key)
        items = contents.manifest.get("items", [])
        if not 0 <= index < len(items):
            raise NotFound(f"the copy has no video {index}")
        item = items[index]
        name = str(item["file"])
        return RoomCopy(export_id, name, str(item["camera_id"]), contents.files[name])


def _live_copies(session: Session, request_id: int) -> list[RequestExport]:
    return list(
        session.exec(
            select(RequestExport)
            .where(
                RequestExport.request_id == request_id,
                col(RequestExport.destroyed_ms).is_(None),
            )
            .order_by(col(RequestExport.created_ms).desc())
        ).all()
    )
