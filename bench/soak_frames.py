"""The soak's view of what was recorded and destroyed (bench/soak.py): a scanner that decrypts
every segment soon after it is indexed (before the accelerated purge destroys it), and the
analysis of frames lost and purge lag against the events the soak caused (cuts, restart).

Frames: the simulator loops its clip in real time with continuous timestamps, so within one
recording run (one RTSP connection) consecutive video frames are exactly one frame apart in
decoding time; a larger step is frames the camera sent and the recorder did not store. Between
two runs of a camera the gap is explained by a cut of that camera or by the appliance's
restart; any other gap (or a run that ends well before the cut or stop that ended it) is lost.

Purge lag: every segment the scanner saw and that later vanished is matched to the destruction
record that covers it (camera, footage range); its lag is that record's time minus the
segment's expiry (``appliance.retention.policy.expiry_ms`` with ``retention.day_s``). A segment
still stored at the end past its expiry counts with its lag so far.
"""

from __future__ import annotations

import itertools
import logging
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import col, select

from appliance.context import AppContext
from appliance.media import PrivateKeyFileOpener
from appliance.media.playback import open_segment
from appliance.models import DestructionRecord, Segment
from appliance.retention.policy import Rule, SegmentSpan, expiry_ms

__all__ = ["Event", "FrameFigures", "PurgeFigures", "Scanner", "frame_figures", "purge_figures"]

log = logging.getLogger(__name__)
FRAME_MS = 40  # 25 fps
SLACK_MS = 1000  # frames in flight when a camera is cut or the appliance stopped


@dataclass
class SegmentFacts:
    """What the scanner read from one segment (video stream only)."""

    id: int
    camera_id: str
    run_id: int
    start_ms: int
    end_ms: int
    frames: int = 0
    first_wall_ms: int = 0
    last_wall_ms: int = 0
    first_dts: int = 0
    last_dts: int = 0
    step: int = 1  # one frame in the stream's time base
    lost_inside: int = 0


@dataclass
class Scanner:
    """Polls the index every ``interval_s``: decrypts new segments, notes vanished ones."""

    ctx: AppContext
    interval_s: float = 3.0
    facts: dict[int, SegmentFacts] = field(default_factory=dict)
    vanished_ms: dict[int, int] = field(default_factory=dict)  # segment id -> when missed
    unreadable: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="soak-scanner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(120)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # a poll racing the purge: the next one goes on
                log.warning("scanner poll failed: %r", exc)
            self._stop.wait(self.interval_s)

    def poll(self) -> None:
        """One pass: read segments indexed since the last pass, note those gone since."""
        now = int(time.time() * 1000)
        with self.ctx.db.session() as session:
            ids = set(session.exec(select(col(Segment.id))).all())
            new = list(
                session.exec(
                    select(Segment)
                    .where(col(Segment.id).not_in(self.facts))
                    .order_by(col(Segment.id))
                ).all()
            )
        for gone in set(self.facts) - {i for i in ids if i is not None}:
            self.vanished_ms.setdefault(gone, now)
        opener = PrivateKeyFileOpener(self.ctx.settings.storage.key_dir)
        for segment in new:
            assert segment.id is not None
            facts = SegmentFacts(
                segment.id, segment.camera_id, segment.run_id or 0, segment.start_ms, segment.end_ms
            )
            try:
                self._read(segment, opener, facts)
            except Exception as exc:  # purged under us, or damaged: said in the report
                self.unreadable.append(f"segment {segment.id} ({segment.camera_id}): {exc!r}")
            self.facts[segment.id] = facts

    def _read(self, segment: Segment, opener: PrivateKeyFileOpener, facts: SegmentFacts) -> None:
        with open_segment(segment, opener, self.ctx.settings.segments_dir) as reader:
            base = reader.head.streams[0].time_base
            facts.step = max(1, round(1 / (25 * base)))
            previous: int | None = None
            for sample in reader:
                if sample.stream_index != 0:
                    continue
                if previous is None:
                    facts.first_dts, facts.first_wall_ms = sample.dts, sample.wall_ms
                else:
                    facts.lost_inside += max(0, round((sample.dts - previous) / facts.step) - 1)
                previous = sample.dts
                facts.last_dts, facts.last_wall_ms = sample.dts, sample.wall_ms
                facts.frames += 1


@dataclass(frozen=True)
class Event:
    """A cause of a gap: a cut of one camera (``camera_id``) or the restart (``None``)."""

    kind: str  # "cut", "restart" or "stop"
    camera_id: str | None
    start_ms: int  # camera stopped / SIGTERM sent
    end_ms: int  # camera restored / appliance answering again (stop: == start)


@dataclass
class FrameFigures:
    frames: int = 0
    segments: int = 0
    lost_inside_runs: int = 0  # steps within a run
    lost_unexplained_gaps: int = 0  # between runs, no cut or restart to explain it
    lost_tails: int = 0  # a run ending more than SLACK_MS before the event that ended it
    unexplained: list[str] = field(default_factory=list)
    tails: list[str] = field(default_factory=list)
    resume_after_cut_ms: list[int] = field(default_factory=list)  # restore -> first frame
    frames_in_cut_reconnect: int = 0
    resume_after_restart_ms: list[int] = field(default_factory=list)  # SIGTERM -> first frame
    resume_after_ready_ms: list[int] = field(default_factory=list)  # answering -> first frame
    frames_during_restart: int = 0

    @property
    def lost(self) -> int:
        return self.lost_inside_runs + self.lost_unexplained_gaps + self.lost_tails


def _runs(facts: list[SegmentFacts]) -> list[list[SegmentFacts]]:
    by_run: dict[int, list[SegmentFacts]] = defaultdict(list)
    for fact in sorted(facts, key=lambda f: f.first_wall_ms):
        by_run[fact.run_id].append(fact)
    return sorted(by_run.values(), key=lambda run: run[0].first_wall_ms)


def frame_figures(facts: dict[int, SegmentFacts], events: list[Event]) -> FrameFigures:
    """Frames stored and lost, per camera, against the cuts, the restart and the final stop."""
    out = FrameFigures()
    per_camera: dict[str, list[SegmentFacts]] = defaultdict(list)
    for fact in facts.values():
        if fact.frames:
            per_camera[fact.camera_id].append(fact)
    for camera, camera_facts in sorted(per_camera.items()):
        runs = _runs(camera_facts)
        mine = sorted(
            (e for e in events if e.camera_id in (None, camera)), key=lambda e: e.start_ms
        )
        for run in runs:
            out.segments += len(run)
            out.frames += sum(f.frames for f in run)
            out.lost_inside_runs += sum(f.lost_inside for f in run)
            for before, after in itertools.pairwise(run):
                step = round((after.first_dts - before.last_dts) / before.step)
                out.lost_inside_runs += max(0, step - 1)
        for index, run in enumerate(runs):
            last = run[-1].last_wall_ms
            following = runs[index + 1][0].first_wall_ms if index + 1 < len(runs) else None
            # The event that ended this run: it began before the next run's first frame and
            # ended (camera back, appliance answering) after this run's last frame. A run may
            # go on after SIGTERM while the other daemons stop first.
            cause = next(
                (
                    e
                    for e in mine
                    if (following is None or e.start_ms <= following)
                    and last - SLACK_MS <= e.end_ms
                ),
                None,
            )
            if cause is None:
                if following is not None:
                    frames = max(0, round((following - last) / FRAME_MS) - 1)
                    out.lost_unexplained_gaps += frames
                    out.unexplained.append(f"{camera}: {frames} frames between runs at {last}")
                continue
            tail = cause.start_ms - last  # < 0: it recorded past the SIGTERM
            if tail > SLACK_MS:
                frames = (tail - SLACK_MS) // FRAME_MS
                out.lost_tails += frames
                out.tails.append(f"{camera}: last frame {tail} ms before the {cause.kind}")
            if following is None:
                continue
            if cause.kind == "cut":
                resume = following - cause.end_ms
                out.resume_after_cut_ms.append(resume)
                out.frames_in_cut_reconnect += max(0, resume // FRAME_MS)
            else:
                out.resume_after_restart_ms.append(following - cause.start_ms)
                out.resume_after_ready_ms.append(following - cause.end_ms)
                out.frames_during_restart += max(0, (following - last) // FRAME_MS - 1)
    return out


@dataclass
class PurgeFigures:
    purged: int = 0  # segments seen, then destroyed by retention
    lags_ms: list[int] = field(default_factory=list)
    overdue_at_end: int = 0  # still stored past expiry when the soak ended
    unmatched: int = 0  # vanished without a covering destruction record
    records: int = 0
    through_restart_ms: list[int] = field(default_factory=list)  # waited while it was down

    @property
    def max_ms(self) -> float:
        return max(self.lags_ms, default=float("nan"))

    @property
    def p95_ms(self) -> float:
        if not self.lags_ms:
            return float("nan")
        return (
            statistics.quantiles(self.lags_ms, n=20)[-1]
            if len(self.lags_ms) > 1
            else self.lags_ms[0]
        )


def purge_figures(
    ctx: AppContext,
    facts: dict[int, SegmentFacts],
    vanished: dict[int, int],
    end_ms: int,
    rule: Rule,
    down: tuple[int, int] | None = None,
) -> PurgeFigures:
    """Each vanished segment's destruction time against its expiry; overdue ones at the end.
    ``down`` (SIGTERM, answering again): lags of segments that waited through it are also
    listed apart (no purge runs while the appliance is down)."""
    out = PurgeFigures()
    with ctx.db.session() as session:
        records = list(
            session.exec(
                select(DestructionRecord).where(col(DestructionRecord.reason) == "retention")
            ).all()
        )
        still = set(session.exec(select(col(Segment.id))).all())
    out.records = len(records)
    by_camera: dict[str, list[DestructionRecord]] = defaultdict(list)
    for record in records:
        if record.camera_id is not None:
            by_camera[record.camera_id].append(record)
    for segment_id, fact in facts.items():
        due = expiry_ms(SegmentSpan(fact.id, fact.camera_id, fact.start_ms, fact.end_ms), rule)
        if segment_id in still:
            if due <= end_ms:
                out.overdue_at_end += 1
                out.lags_ms.append(end_ms - due)
            continue
        if segment_id not in vanished:
            continue
        covering = [
            r
            for r in by_camera[fact.camera_id]
            if (r.start_ms or 0) <= fact.start_ms and fact.end_ms <= (r.end_ms or 0)
        ]
        if not covering:
            out.unmatched += 1
            continue
        out.purged += 1
        destroyed = min(r.executed_ms for r in covering)
        out.lags_ms.append(destroyed - due)
        if down is not None and due <= down[1] and destroyed >= down[0]:
            out.through_restart_ms.append(destroyed - due)
    return out
