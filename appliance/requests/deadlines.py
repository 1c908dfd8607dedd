"""Reading requests and watching their deadlines: lists, deadline status, and the alarms
``request_overdue`` / ``request_due_soon`` the deadline daemon raises and clears."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlmodel import col, select

from appliance.alarms import AlarmKind
from appliance.models import (
    FootageRequest,
)
from appliance.requests._stage import Stage, clear_alarm_everywhere, clear_request_alarms
from appliance.requests.kinds import (
    Decision,
    RequestState,
)
from appliance.requests.workflow import (
    DAY_MS,
    DeadlineStatus,
    deadline_status,
)
from appliance.retention import (
    raise_alarm,
)

if TYPE_CHECKING:
    pass

__all__ = ["DeadlineEntry", "DeadlineReport", "Deadlines"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadlineEntry:
    request: FootageRequest
    status: DeadlineStatus
    deadline_ms: int | None


@dataclass
class DeadlineReport:
    """Open requests by deadline status (``overdue`` raises alarms)."""

    now_ms: int
    entries: list[DeadlineEntry] = field(default_factory=list)

    def with_status(self, status: DeadlineStatus) -> list[DeadlineEntry]:
        return [e for e in self.entries if e.status is status]

    @property
    def overdue(self) -> list[DeadlineEntry]:
        return self.with_status(DeadlineStatus.overdue)

    @property
    def due_soon(self) -> list[DeadlineEntry]:
        return self.with_status(DeadlineStatus.due_soon)


class Deadlines(Stage):
    """Reads and deadline checks."""

    def get(self, request_id: int, *, agency_user_id: int | None = None) -> FootageRequest:
        with self._ctx.db.session() as session:
            return self._load(session, request_id, agency_user_id)

    def list_requests(
        self,
        *,
        state: RequestState | None = None,
        open_only: bool = False,
        agency_user_id: int | None = None,
    ) -> list[FootageRequest]:
        query = select(FootageRequest).order_by(col(FootageRequest.id))
        if state is not None:
            query = query.where(FootageRequest.state == state.value)
        if open_only:
            query = query.where(FootageRequest.state != RequestState.closed.value)
        if agency_user_id is not None:
            query = query.where(FootageRequest.agency_user_id == agency_user_id)
        with self._ctx.db.session() as session:
            return list(session.exec(query).all())

    def deadline(self, request: FootageRequest) -> tuple[DeadlineStatus, int | None]:
        return deadline_status(
            RequestState(request.state),
            Decision(request.decision) if request.decision else None,
            request.due_ms,
            request.notified_ms,
            request.postponed_until_ms,
            self._now(),
            self._config.due_soon_days * DAY_MS,
        )

    def deadlines(self) -> DeadlineReport:
        """Every open request with its deadline status, soonest deadline first."""
        report = DeadlineReport(now_ms=self._now())
        for request in self.list_requests(open_only=True):
            status, deadline = self.deadline(request)
            report.entries.append(DeadlineEntry(request, status, deadline))
        report.entries.sort(key=lambda e: (e.deadline_ms is None, e.deadline_ms or 0))
        return report

    def check_deadlines(self) -> DeadlineReport:
        """Raise an alarm for each overdue or due-soon request; clear the rest's."""
        report = self.deadlines()
        now = report.now_ms
        with self._ctx.db.session() as session:
            for entry in report.entries:
                request = entry.request
                subject = f"request:{request.id}"
                if entry.status is DeadlineStatus.overdue:
                    clear_alarm_everywhere(session, AlarmKind.request_due_soon, subject, now)
                    raise_alarm(
                        session,
                        AlarmKind.request_overdue,
                        f"요청 #{request.id}의 통지 기한이 지났습니다 (R-REQ-3/4)",
                        now,
                        subject=subject,
                    )
                elif entry.status is DeadlineStatus.due_soon:
                    raise_alarm(
                        session,
                        AlarmKind.request_due_soon,
                        f"요청 #{request.id}의 통지 기한이 임박했습니다",
                        now,
                        subject=subject,
                    )
                else:
                    clear_request_alarms(session, request, now)
        if report.overdue:
            log.warning("%d request(s) overdue", len(report.overdue))
        return report

    def metrics(self) -> dict[str, int]:
        """Counts for dashboards and monitoring."""
        report = self.deadlines()
        counts = {status.value: 0 for status in DeadlineStatus}
        for entry in report.entries:
            counts[entry.status.value] += 1
        counts["open_requests"] = len(report.entries)
        return counts
