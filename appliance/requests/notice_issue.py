"""Issuing notices: the notice of the current decision is rendered (``notices``), kept as sent
with its channel, and the first one stops the 10-day clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from appliance.errors import Conflict, NotFound
from appliance.export.package import fingerprint
from appliance.keys import load_verify_key
from appliance.models import (
    Camera,
    DestructionRecord,
    FootageRequest,
    RequestNotice,
)
from appliance.requests._stage import Stage, clear_request_alarms
from appliance.requests.kinds import (
    Channel,
)
from appliance.requests.notices import notice_context, render_notice
from appliance.requests.workflow import (
    Action,
)

if TYPE_CHECKING:
    pass

__all__ = ["NoticeIssue"]


class NoticeIssue(Stage):
    """Preview, send and read notices."""

    def _notice_html(self, session: Session, request: FootageRequest) -> str:
        settings = self._ctx.settings
        destruction = [
            record
            for record_id in request.destruction_refs
            if (record := session.get(DestructionRecord, record_id)) is not None
        ]
        try:
            signer = fingerprint(load_verify_key(settings.storage.key_dir))
        except NotFound:
            signer = ""
        context = notice_context(
            request,
            settings.site,
            settings.zone,
            now_ms=self._now(),
            camera_names=self._camera_names(session),
            destruction=destruction,
            fingerprint=signer,
        )
        return render_notice(context)

    def preview_notice(self, request_id: int) -> str:
        """The notice of the current decision, not yet sent (printable HTML)."""
        with self._ctx.db.session() as session:
            return self._notice_html(session, self._load(session, request_id))

    def notify(self, request_id: int, *, channel: Channel, actor: str) -> RequestNotice:
        """Render the notice of the current decision and record that it was sent; the first
        notice stops the 10-day clock."""
        now = self._now()
        with self._ctx.db.session() as session:
            request = self._load(session, request_id)
            if request.decision is None:
                raise Conflict("decide before notifying")
            body = self._notice_html(session, request)
            notice = RequestNotice(
                request_id=request_id,
                kind=request.decision,
                body_html=body,
                created_ms=now,
                created_by=actor,
                sent_ms=now,
                channel=channel.value,
            )
            session.add(notice)
            if request.notified_ms is None:
                request.notified_ms = now
            request.notice_channel = channel.value
            clear_request_alarms(session, request, now)
            session.flush()
            self._state_entry(
                session,
                request,
                Action.notify,
                actor=actor,
                data={
                    "decision": request.decision,
                    "notice_ms": now,
                    "notice_channel": channel.value,
                    "notice_id": notice.id,
                    "in_time": now < request.due_ms,
                },
            )
            return notice

    def notices(self, request_id: int, *, agency_user_id: int | None = None) -> list[RequestNotice]:
        return self._rows(
            request_id,
            agency_user_id,
            select(RequestNotice)
            .where(RequestNotice.request_id == request_id)
            .order_by(col(RequestNotice.id)),
        )

    def notice(
        self, request_id: int, notice_id: int, *, agency_user_id: int | None = None
    ) -> RequestNotice:
        with self._ctx.db.session() as session:
            self._load(session, request_id, agency_user_id)
            notice = session.get(RequestNotice, notice_id)
            if notice is None or notice.request_id != request_id:
                raise NotFound(f"no notice {notice_id} on request {request_id}")
            return notice

    def _camera_names(self, session: Session) -> dict[str, str]:
        return {c.id: c.name for c in session.exec(select(Camera)).all()}
