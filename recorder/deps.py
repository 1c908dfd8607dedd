"""What every camera worker and recording session shares (built once by the recorder daemon)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path

from appliance.clock import Clock
from appliance.db import Database
from appliance.settings import RecorderConfig
from recorder.diskguard import DiskGuard
from recorder.indexer import SegmentIndexer
from recorder.status import StatusBoard
from recorder.vaultkey import VaultPublicKey

__all__ = ["WorkerDeps"]


@dataclass(frozen=True)
class WorkerDeps:
    """What every worker shares: the service's database, clock, key, indexer, status, disk."""

    db: Database
    clock: Clock
    config: RecorderConfig
    segments_dir: Path
    vault_key: VaultPublicKey
    indexer: SegmentIndexer
    status: StatusBoard
    zone: tzinfo = UTC  # the site's: counters are kept per site-local day
    disk: DiskGuard | None = None  # the recorder's free-space floor (None: not guarded)
