"""The officer's control over a request's hold (issue 13, finding 2): read it, narrow it to
fewer cameras or a shorter range (never more: ``appliance.retention.holds.narrowed_scope``), or
release it early, each with a reason and a ledger entry (``hold_narrowed``, ``hold_released``)
in the same transaction. Whatever leaves the hold follows its group's retention again.

The request itself keeps what was asked; only what is protected from the purge changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from appliance.errors import NotFound
from appliance.models import FootageRequest
from appliance.requests._stage import Stage
from appliance.retention.holds import HoldView, get_hold, narrow_hold, release_hold

__all__ = ["HoldAdmin"]


class HoldAdmin(Stage):
    """Read, narrow and release the hold a request placed."""

    def hold(self, request_id: int, *, agency_user_id: int | None = None) -> HoldView:
        with self._ctx.db.session() as session:
            return get_hold(session, self._hold_id(session, request_id, agency_user_id))

    def narrow(
        self,
        request_id: int,
        *,
        camera_ids: Sequence[str],
        start_ms: int,
        end_ms: int,
        reason: str,
        actor: str,
    ) -> HoldView:
        with self._ctx.db.session() as session:
            return narrow_hold(
                self._ctx,
                session,
                self._hold_id(session, request_id),
                camera_ids=camera_ids,
                start_ms=start_ms,
                end_ms=end_ms,
                actor=actor,
                reason=reason,
            )

    def release(self, request_id: int, *, reason: str, actor: str) -> HoldView:
        with self._ctx.db.session() as session:
            hold_id = self._hold_id(session, request_id)
            release_hold(self._ctx, session, hold_id, released_by=actor, reason=reason)
            return get_hold(session, hold_id)

    def _hold_id(self, session: Session, request_id: int, agency_user_id: int | None = None) -> int:
        request: FootageRequest = self._load(session, request_id, agency_user_id)
        if request.hold_id is None:
            raise NotFound(f"request {request_id} has no hold")
        return request.hold_id
