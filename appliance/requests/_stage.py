"""What every stage of the request workflow shares: loading a request (NotFound for another
agency's), saving it with its ``request_state`` ledger entry (last, so a ledger that cannot be
written rolls the change back), and the operating-room test of R-REQ-9."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from appliance.alarms import AlarmKind
from appliance.errors import NotFound
from appliance.ledger import EventType
from appliance.models import Alarm, Camera, FootageRequest
from appliance.requests.kinds import Fulfilment, RequestState
from appliance.requests.workflow import Action, current_decision, next_state
from appliance.settings import Disclosure

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["REQUEST_ALARMS", "Stage", "clear_alarm_everywhere", "clear_request_alarms", "ref"]

_Row = TypeVar("_Row")

#: The alarms a request raises while its notice is late or due (subject ``request:<id>``).
REQUEST_ALARMS = (AlarmKind.request_overdue, AlarmKind.request_due_soon)


def ref(request: FootageRequest) -> str:
    """The ledger reference of a request."""
    return str(request.id)


class Stage:
    """The base of each stage's transactions (``receipt``, ``decision``, ...)."""

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx
        self._config = ctx.settings.requests

    def _now(self) -> int:
        return self._ctx.clock.now_ms()

    def _load(
        self, session: Session, request_id: int, agency_user_id: int | None = None
    ) -> FootageRequest:
        request = session.get(FootageRequest, request_id)
        if request is None or (
            agency_user_id is not None and request.agency_user_id != agency_user_id
        ):
            raise NotFound(f"no request {request_id}")
        return request

    def _rows(
        self, request_id: int, agency_user_id: int | None, query: SelectOfScalar[_Row]
    ) -> list[_Row]:
        """``query``'s rows, once the request is found (and is the agency's, if one asks)."""
        with self._ctx.db.session() as session:
            self._load(session, request_id, agency_user_id)
            return list(session.exec(query).all())

    def _state_entry(
        self,
        session: Session,
        request: FootageRequest,
        action: Action,
        *,
        actor: str,
        data: dict[str, Any],
        new: RequestState | None = None,
    ) -> None:
        """Move the state machine (to ``new`` if the caller checked the move before changing
        the row), save, and append the ledger entry (last)."""
        if new is None:
            new = next_state(RequestState(request.state), action, current_decision(request))
        request.state = new.value
        self._save(
            session, request, actor=actor, data={"state": new.value, "action": action.value, **data}
        )

    def _save(
        self, session: Session, request: FootageRequest, *, actor: str, data: dict[str, Any]
    ) -> None:
        """Save a changed request and append its ``request_state`` ledger entry (last)."""
        request.updated_ms = self._now()
        session.add(request)
        session.flush()
        self._ctx.ledger.append(
            EventType.request_state, actor=actor, data=data, ref=ref(request), session=session
        )

    def _fulfil(
        self,
        session: Session,
        request: FootageRequest,
        fulfilment: Fulfilment,
        *,
        now: int,
        actor: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Record how the request was fulfilled and move it to ``fulfilled``."""
        request.fulfilment = fulfilment.value
        request.fulfilled_ms = now
        self._state_entry(
            session,
            request,
            Action.fulfil,
            actor=actor,
            data={"fulfilment": request.fulfilment, **(data or {})},
        )

    def _restricted_cameras(self, session: Session, camera_ids: Sequence[str]) -> list[str]:
        """Operating-room cameras among ``camera_ids`` (R-REQ-9); an unknown group counts as
        restricted, so a removed configuration never widens disclosure."""
        groups = {g.name: g for g in self._ctx.settings.groups}
        restricted = []
        for camera_id in camera_ids:
            row = session.get(Camera, camera_id)
            group = groups.get(row.group_name) if row is not None else None
            if group is None or group.disclosure is Disclosure.operating_room:
                restricted.append(camera_id)
        return restricted


def clear_alarm_everywhere(session: Session, kind: AlarmKind, subject: str, now: int) -> None:
    """Close every open alarm ``(kind, subject)``."""
    # Not retention's clear_alarm: that closes one open alarm, this closes every open one
    # for (kind, subject), should two watchers ever have raised it concurrently.
    for alarm in session.exec(
        select(Alarm).where(
            Alarm.kind == kind.value, Alarm.subject == subject, col(Alarm.cleared_ms).is_(None)
        )
    ).all():
        alarm.cleared_ms = now
        session.add(alarm)
    session.flush()


def clear_request_alarms(session: Session, request: FootageRequest, now: int) -> None:
    """The notice went out or the request closed: its deadline alarms are over."""
    for kind in REQUEST_ALARMS:
        clear_alarm_everywhere(session, kind, f"request:{request.id}", now)
