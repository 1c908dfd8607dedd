"""Every kind of alarm, in one enum: the values stored in ``alarm.kind``.

An alarm is a condition an operator must see (web page, metrics, CLI). Raising and clearing
live with the ``Alarm`` table's writers (``appliance.retention.alarms``); the kinds live here
so every domain raises from one list and no two domains reuse a word.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AlarmKind"]


class AlarmKind(StrEnum):
    """The ``alarm.kind`` values (stored as text: adding a kind needs no migration)."""

    # retention
    storage_low = "storage_low"  # free space below alarm_free_bytes
    storage_pressure = "storage_pressure"  # footage purged early to free space
    storage_protected_full = "storage_protected_full"  # only held/minimum footage left
    unknown_group = "unknown_group"  # a camera's group is not configured: nothing purged
    purge_failed = "purge_failed"  # a purge cycle raised
    integrity = "integrity"  # fsck found damaged, missing or orphaned files
    # vault (design/keys.md)
    key_rotation_overdue = "key_rotation_overdue"  # the automatic rotation failed
    keys_in_clear = "keys_in_clear"  # private keys in clear at rest (permanent)
    # requests (subject ``request:<id>``)
    request_overdue = "request_overdue"  # the 10-day notice is late (R-REQ-3/4)
    request_due_soon = "request_due_soon"  # the notice is due within requests.due_soon_days
