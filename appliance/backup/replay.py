"""After a restore: destroy again everything destroyed since the backup, then say what footage
can still be opened (design/backup.md, "No resurrection").

The restored database is as old as the backup, so it still holds the sealed keys of footage,
copies and vault keys destroyed since. Their destruction records went with the lost database;
what survives is evidence and rule, and the replay runs on both, in this order:

1. **Rule** (``Retention.run_cycle`` at the restore's clock): every segment past its group's
   retention, every hold past its expiry, is destroyed now, exactly as the box would have
   destroyed it; the copy in the archive already had the due keys nulled. Export packages and
   documents past their keep days likewise (``destroy_expired_copies``).
2. **Evidence** (``fsck`` repair on the surviving segments disk): a row whose file is gone was
   purged after the backup (a deletion request, storage pressure, a purge by hand): its key is
   destroyed with the row (method "index row removed", reason "file missing"); an export row
   whose package is gone likewise. Files without a row were recorded after the backup: their
   keys were only in the lost database, so nobody can ever open them; they are unlinked.
3. **Keys**: the vault key is rotated (nothing recorded after the restore is sealed to a key
   the archive holds); with the vault unlocked, documents and export key copies are re-sealed
   to it; then every retired key that nothing holds is destroyed at once (no grace: no recorder
   is writing). A vault key destroyed after the backup held only footage purged after the
   backup (step 1 or 2 removed it), so it is destroyed again here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from appliance.requests.service import RequestService
from appliance.retention import Retention, destroy_retired_keys, fsck
from appliance.retention._tables import SEGMENT
from appliance.retention.fsck import ProblemKind

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["OpenableRange", "ReplayReport", "openable_footage", "replay_destruction"]

#: A break longer than this between two segments of a camera starts a new range.
_RANGE_BREAK_MS = 5_000


@dataclass
class ReplayReport:
    """What the replay destroyed."""

    expired_segments: int = 0  # by retention, at the restore's clock
    missing_segments: int = 0  # rows whose file was gone (deleted after the backup)
    unreadable_files: int = 0  # recorded after the backup: no key anywhere, unlinked
    derived_destroyed: int = 0  # exports and documents past their keep days, or missing
    rotated_to: str = ""
    keys_destroyed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OpenableRange:
    """A stretch of one camera's footage that the restored box can decrypt."""

    camera_id: str
    start_ms: int
    end_ms: int
    segments: int


def _no_grace(ctx: AppContext) -> AppContext:
    """The same process parts with ``retired_key_grace_s`` = 0 (no recorder runs yet)."""
    from appliance.context import AppContext

    settings = ctx.settings.model_copy(
        update={"retention": ctx.settings.retention.model_copy(update={"retired_key_grace_s": 0})}
    )
    other = AppContext(settings=settings, db=ctx.db, clock=ctx.clock)
    # Share the unlocked vault and the ledger's tip lock (cached properties live in __dict__).
    other.__dict__["vault"] = ctx.vault
    other.__dict__["ledger"] = ctx.ledger
    other.__dict__["vault_keeper"] = ctx.vault_keeper
    return other


def replay_destruction(ctx: AppContext, actor: str) -> ReplayReport:
    """Steps 1-3 of the module doc; every destruction gets its record and ledger entry."""
    report = ReplayReport()
    cycle = Retention(ctx, actor=actor).run_cycle()
    report.expired_segments = cycle.expired.segments + cycle.pressure.segments
    report.keys_destroyed += cycle.destroyed_keys
    requests = RequestService(ctx)
    derived = requests.destroy_expired_copies()
    report.derived_destroyed += len(derived.exports) + len(derived.documents)
    checked = fsck(ctx, repair=True, verify_hash=False, actor=actor)
    report.missing_segments = checked.count(ProblemKind.missing_file)
    report.unreadable_files = checked.count(ProblemKind.orphan_file)
    report.derived_destroyed += checked.count(ProblemKind.export_missing)
    report.rotated_to = ctx.vault_keeper.rotate(actor)
    requests.reseal_documents()  # needs the unlocked vault; a no-op otherwise
    report.keys_destroyed += destroy_retired_keys(_no_grace(ctx), actor)
    return report


def openable_footage(ctx: AppContext) -> list[OpenableRange]:
    """Footage with its file, its sealed key and its vault key present, as ranges per camera."""
    vault = ctx.vault
    root = ctx.settings.segments_dir
    ranges: list[OpenableRange] = []
    with ctx.db.session() as session:
        rows = session.execute(
            select(SEGMENT.c.camera_id, SEGMENT.c.start_ms, SEGMENT.c.end_ms,
                   SEGMENT.c.vault_key_id, SEGMENT.c.path)
            .where(SEGMENT.c.sealed_key.is_not(None))
            .order_by(SEGMENT.c.camera_id, SEGMENT.c.start_ms)
        ).all()  # fmt: skip
    present: dict[str, bool] = {}
    current: OpenableRange | None = None
    for camera_id, start_ms, end_ms, key_id, path in rows:
        if key_id not in present:
            present[key_id] = vault.has_private_key(key_id)
        if not present[key_id] or not (root / path).is_file():
            continue
        if (
            current is not None
            and current.camera_id == camera_id
            and start_ms - current.end_ms <= _RANGE_BREAK_MS
        ):
            current = OpenableRange(
                camera_id, current.start_ms, max(current.end_ms, end_ms), current.segments + 1
            )
            ranges[-1] = current
            continue
        current = OpenableRange(camera_id, start_ms, end_ms, 1)
        ranges.append(current)
    return ranges
