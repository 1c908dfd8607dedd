"""One purge cycle: the scheduler runs it every ``retention.cycle_interval_s`` (at most 30 s).

In order: finish interrupted batches, release expired holds, purge expired footage, relieve
storage pressure, destroy unused retired vault keys, update alarms, scrub the database files of
what the purges deleted (design/retention.md, "Database remnants").
"""

from __future__ import annotations

import heapq
import logging
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlmodel import Session, col

from appliance.alarms import AlarmKind, clear_alarm, open_alarms, raise_alarm
from appliance.models import Camera
from appliance.retention._tables import PURGE_ITEM, PURGED_TABLES, SEGMENT, SPAN_COLUMNS
from appliance.retention.destruction import Reason
from appliance.retention.holds import active_holds, held_segment_clause, release_expired_holds
from appliance.retention.keys import destroy_retired_keys
from appliance.retention.policy import (
    Rule,
    SegmentSpan,
    StorageState,
    expired,
    pressure_victims,
    rules_by_group,
    storage_state,
)
from appliance.retention.purge import PurgeHook, Purger, PurgeResult

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["CycleReport", "FreeBytes", "Retention", "camera_rules"]

log = logging.getLogger(__name__)

#: Free bytes on the segments' file system (injectable: tests simulate pressure with it).
FreeBytes = Callable[[], int]


@dataclass
class CycleReport:
    """What one cycle did."""

    now_ms: int
    recovered_batches: int = 0
    released_holds: list[int] = field(default_factory=list)
    expired: PurgeResult = field(default_factory=PurgeResult)
    pressure: PurgeResult = field(default_factory=PurgeResult)
    free_bytes: int | None = None
    storage: StorageState = StorageState.ok
    protected_only: bool = False
    destroyed_keys: list[str] = field(default_factory=list)
    unknown_groups: dict[str, str] = field(default_factory=dict)  # camera id -> group name
    remnants_scrubbed: bool = True  # False: the checkpoint/VACUUM failed, retried next cycle


def camera_rules(session: Session, ctx: AppContext) -> tuple[dict[str, Rule], dict[str, str]]:
    """(camera id -> its group's rule, camera id -> unconfigured group name).

    Cameras removed from the configuration keep their group; a camera whose group is no
    longer configured has no rule, so none of its footage is purged (alarm instead).
    """
    rules: dict[str, Rule] = {}
    unknown: dict[str, str] = {}
    groups = rules_by_group(
        ((g.name, g.min_days, g.max_days) for g in ctx.settings.groups),
        ctx.settings.retention.day_s,
    )
    for camera_id, group_name in session.execute(
        select(col(Camera.id), col(Camera.group_name))
    ).all():
        rule = groups.get(group_name)
        if rule is None:
            unknown[camera_id] = group_name
        else:
            rules[camera_id] = rule
    return rules, unknown


def _span(row: Sequence[Any]) -> SegmentSpan:
    return SegmentSpan(int(row[0]), str(row[1]), int(row[2]), int(row[3]), int(row[4]))


_NOT_JOURNALED = ~exists().where(PURGE_ITEM.c.segment_id == SEGMENT.c.id)


class Retention:
    """The retention engine of one process."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        free_bytes: FreeBytes | None = None,
        hook: PurgeHook | None = None,
        actor: str = "retention",
    ) -> None:
        self._ctx = ctx
        self._free_bytes = free_bytes or self._disk_free
        self.actor = actor
        # SQLite checkpoints after every batch (cheap: the WAL holds one batch); PostgreSQL
        # vacuums once per cycle (a VACUUM reads whole indexes, whatever the batch size).
        self.purger = Purger(ctx, hook=hook, scrub_each_batch=ctx.db.is_sqlite)
        # A previous process may have died between a purge and its scrub: scrub once anyway.
        ctx.db.mark_remnants(PURGED_TABLES)

    def _disk_free(self) -> int:
        return shutil.disk_usage(self._ctx.settings.segments_dir).free

    # -- the cycle --------------------------------------------------------------------------------

    def run_cycle(self) -> CycleReport:
        ctx = self._ctx
        now = ctx.clock.now_ms()
        report = CycleReport(now_ms=now)
        report.recovered_batches = self.purger.recover()
        with ctx.db.session() as session:
            report.released_holds = release_expired_holds(ctx, session, self.actor)
            rules, report.unknown_groups = camera_rules(session, ctx)
            self._group_alarms(session, report.unknown_groups, now)
        report.expired = self.purge_expired(rules, now)
        self._relieve_pressure(rules, now, report)
        report.destroyed_keys = destroy_retired_keys(ctx, self.actor)
        report.remnants_scrubbed = ctx.db.scrub_remnants()
        return report

    def purge_expired(self, rules: dict[str, Rule], now_ms: int) -> PurgeResult:
        """Purge every segment due at ``now_ms``, batch by batch."""
        total = PurgeResult()
        while True:
            with self._ctx.db.session() as session:
                candidates = list(self._expired_candidates(session, rules, now_ms))
                holds = active_holds(session)
            due = expired(candidates, rules, holds, now_ms)
            if not due:
                return total
            result = self.purger.purge(
                [s.id for s in due], reason=Reason.retention, actor=self.actor, rules=rules
            )
            total.add(result)
            if result.segments == 0:
                return total  # everything left was refused (held since): next cycle

    def _expired_candidates(
        self, session: Session, rules: dict[str, Rule], now_ms: int
    ) -> Iterator[SegmentSpan]:
        """Up to one batch of due, unheld, unjournaled segments (an index range per camera)."""
        left = self.purger.batch_size
        for camera_id, rule in sorted(rules.items()):
            start_cut, end_cut = rule.cutoffs(now_ms)
            rows = session.execute(
                select(*SPAN_COLUMNS)
                .where(
                    SEGMENT.c.camera_id == camera_id,
                    SEGMENT.c.start_ms <= start_cut,
                    SEGMENT.c.end_ms <= end_cut,
                    ~held_segment_clause(),
                    _NOT_JOURNALED,
                )
                .order_by(SEGMENT.c.start_ms)
                .limit(left)
            ).all()
            for row in rows:
                yield _span(row)
            left -= len(rows)
            if left <= 0:
                return

    # -- storage pressure ---------------------------------------------------------------------

    def _relieve_pressure(self, rules: dict[str, Rule], now_ms: int, report: CycleReport) -> None:
        settings = self._ctx.settings.storage
        free = self._free_bytes()
        state = storage_state(free, settings.min_free_bytes, settings.alarm_free_bytes)
        while state is StorageState.pressure:
            with self._ctx.db.session() as session:
                oldest = self._oldest_unprotected(session, rules, now_ms)
                holds = active_holds(session)
            victims = pressure_victims(oldest, rules, holds, now_ms, settings.min_free_bytes - free)
            if not victims:
                report.protected_only = True
                break
            result = self.purger.purge(
                [s.id for s in victims],
                reason=Reason.storage_pressure,
                actor=self.actor,
                rules=rules,
            )
            report.pressure.add(result)
            if result.segments == 0:
                report.protected_only = True
                break
            free = self._free_bytes()
            state = storage_state(free, settings.min_free_bytes, settings.alarm_free_bytes)
        report.free_bytes, report.storage = free, state
        self._storage_alarms(report, now_ms)

    def _oldest_unprotected(
        self, session: Session, rules: dict[str, Rule], now_ms: int
    ) -> list[SegmentSpan]:
        """Up to one batch of the oldest segments past their minimum and not held."""
        by_group: dict[Rule, list[str]] = {}
        for camera_id, rule in rules.items():
            by_group.setdefault(rule, []).append(camera_id)
        streams = []
        for rule, cameras in by_group.items():
            _, end_cut = rule.cutoffs(now_ms)
            rows = session.execute(
                select(*SPAN_COLUMNS)
                .where(
                    SEGMENT.c.camera_id.in_(cameras),
                    SEGMENT.c.end_ms <= end_cut,
                    ~held_segment_clause(),
                    _NOT_JOURNALED,
                )
                .order_by(SEGMENT.c.end_ms)
                .limit(self.purger.batch_size)
            ).all()
            streams.append([_span(r) for r in rows])
        merged = heapq.merge(*streams, key=lambda s: (s.end_ms, s.id))
        return list(merged)[: self.purger.batch_size]

    # -- alarms ---------------------------------------------------------------------------------

    def _storage_alarms(self, report: CycleReport, now_ms: int) -> None:
        free = report.free_bytes
        with self._ctx.db.session() as session:
            if report.storage is StorageState.ok:
                clear_alarm(session, AlarmKind.storage_low, now_ms)
            else:
                raise_alarm(
                    session,
                    AlarmKind.storage_low,
                    f"free space {free} bytes is below the alarm threshold",
                    now_ms,
                )
            if report.pressure.segments:
                raise_alarm(
                    session,
                    AlarmKind.storage_pressure,
                    f"storage pressure: purged {report.pressure.segments} segments "
                    f"({report.pressure.size_bytes} bytes) before their retention ended",
                    now_ms,
                )
            elif report.storage is not StorageState.pressure:
                clear_alarm(session, AlarmKind.storage_pressure, now_ms)
            if report.protected_only:
                raise_alarm(
                    session,
                    AlarmKind.storage_protected_full,
                    f"free space {free} bytes is below the minimum and only held or "
                    "minimum-retention footage is left: nothing purged; release holds, "
                    "export, or add storage (recording continues until the disk is full)",
                    now_ms,
                )
            else:
                clear_alarm(session, AlarmKind.storage_protected_full, now_ms)

    def _group_alarms(self, session: Session, unknown: dict[str, str], now_ms: int) -> None:
        for alarm in open_alarms(session):
            if alarm.kind == AlarmKind.unknown_group.value and alarm.subject not in unknown:
                clear_alarm(session, AlarmKind.unknown_group, now_ms, subject=alarm.subject)
        for camera_id, group in unknown.items():
            raise_alarm(
                session,
                AlarmKind.unknown_group,
                f"camera {camera_id}'s group {group!r} is not configured: its footage is kept",
                now_ms,
                subject=camera_id,
            )
