"""Retention: on-time purge by crypto-shredding, holds, storage pressure, the destruction ledger.

See design/retention.md. Decisions are pure functions (``policy``); ``Purger`` executes them in
a crash-safe order; ``Retention.run_cycle`` is what the ``retention`` service runs.
"""

from __future__ import annotations

from appliance.alarms import AlarmKind, clear_alarm, open_alarms, raise_alarm
from appliance.retention.cycle import CycleReport, Retention, camera_rules
from appliance.retention.deletion import DeletionCheck, check_deletion, delete_footage, segments_in
from appliance.retention.destruction import (
    Method,
    Reason,
    find_destruction,
    list_destruction,
    to_csv,
    to_html,
)
from appliance.retention.fsck import FsckReport, Problem, ProblemKind, fsck
from appliance.retention.holds import (
    HoldView,
    active_holds,
    get_hold,
    list_holds,
    place_hold,
    release_expired_holds,
    release_hold,
    set_hold_expiry,
)
from appliance.retention.keys import destroy_retired_keys
from appliance.retention.purge import Purger, PurgeResult

__all__ = [
    "AlarmKind",
    "CycleReport",
    "DeletionCheck",
    "FsckReport",
    "HoldView",
    "Method",
    "Problem",
    "ProblemKind",
    "PurgeResult",
    "Purger",
    "Reason",
    "Retention",
    "active_holds",
    "camera_rules",
    "check_deletion",
    "clear_alarm",
    "delete_footage",
    "destroy_retired_keys",
    "find_destruction",
    "fsck",
    "get_hold",
    "list_destruction",
    "list_holds",
    "open_alarms",
    "place_hold",
    "raise_alarm",
    "release_expired_holds",
    "release_hold",
    "segments_in",
    "set_hold_expiry",
    "to_csv",
    "to_html",
]
