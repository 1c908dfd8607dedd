"""What the ledger records, and the ``data`` keys each kind of event carries.

The management ledger (``appliance.ledger.management``) is derived from these keys, so callers
fill them as documented here and in design/ledger.md. Common keys, used by many events:

- ``purpose`` (str): why; ``reason`` (str): why, for destruction and refusals
- ``cameras`` (list of camera ids) when an event touches several cameras; otherwise the entry's
  ``camera_id`` column
- ``from_ms`` / ``to_ms`` (int, UTC ms): the footage time range concerned
- ``officer`` / ``witness`` (str): the officer in charge and a witness, by display name
- ``recipient`` / ``requester`` (str): who receives footage / who asked
- ``legal_basis`` (str), ``form`` (str: "on-site viewing", "copy on USB", ...), ``masking`` (bool)

The entry's ``actor`` is always who (or which part) did it; ``ref`` ties related entries together
(a view session id for start/end, a request id, a hold id).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EventType"]


class EventType(StrEnum):
    """Kinds of ledger entries. Each member's comment lists the ``data`` keys it must carry."""

    #: A segment was indexed (R-REC-4). camera_id; data: segment_id, path, blake2b, start_ms,
    #: end_ms, size_bytes.
    segment_created = "segment_created"
    #: Segments were destroyed individually. camera_id; data: segment_ids, reason.
    segment_destroyed = "segment_destroyed"
    #: Live view began. ref: view session id; data: purpose, cameras.
    view_live_start = "view_live_start"
    #: Live view ended. ref: the same session id; data: {} (or reason).
    view_live_end = "view_live_end"
    #: Recorded footage viewing began. ref: session id; data: purpose, cameras, from_ms, to_ms,
    #: masking.
    view_recorded_start = "view_recorded_start"
    #: Recorded footage viewing ended. ref: the same session id.
    view_recorded_end = "view_recorded_end"
    #: An export file was made (management ledger: 이용). ref: export id; data: purpose, cameras,
    #: from_ms, to_ms, masking, form, file, blake2b, sha256 (of the package file, since issue
    #: 20), request_id (optional), recipient (optional).
    export_created = "export_created"
    #: Supervised on-site viewing for a requester (열람). ref: request id; data: requester,
    #: purpose, cameras, from_ms, to_ms, officer, witness, place, masking (what the copy shown
    #: had applied, read from it), export_id (the masked copy shown, or None), note.
    onsite_viewing = "onsite_viewing"
    #: Footage handed to a third party (제공). ref: request id; data: recipient, purpose,
    #: legal_basis, form, cameras, from_ms, to_ms, masking, period, officer, export_id, blake2b,
    #: sha256 (the package file's, as ``export_created`` recorded it).
    provision = "provision"
    #: The hand-over record of a copy (인수확인서: files, SHA-256, scope, masking) was shown or
    #: printed, before it is shown (issue 20). ref: request id; data: request_id, export_id,
    #: sha256 (of the package file), files, via ("web"/"cli").
    handover_record = "handover_record"
    #: A request was received (요청). ref: request id; data: requester, requester_kind
    #: (subject/representative/delegate/police/agency/court), request_kind
    #: (existence/viewing/copy/deletion), identity_check, received_ms, due_ms, purpose, cameras,
    #: from_ms, to_ms, legal_basis.
    request_received = "request_received"
    #: A request changed state. ref: request id; data: state, and what became known: decision,
    #: notice_ms, viewing_ms, viewing_place, officer_present, refusal_reason, due_ms, fee_krw.
    request_state = "request_state"
    #: A hold was placed (R-RET-3). ref: hold id; data: cameras, from_ms, to_ms, reason,
    #: request_id.
    hold_placed = "hold_placed"
    #: A hold was released. ref: hold id; data: reason.
    hold_released = "hold_released"
    #: A hold was narrowed (fewer cameras or a shorter range, never more). ref: hold id; data:
    #: cameras, from_ms, to_ms (what stays held), reason, reference, previous (cameras, from_ms,
    #: to_ms).
    hold_narrowed = "hold_narrowed"
    #: A request document (letter, ID copy ...) was attached. ref: request id; data:
    #: request_id, document_id, kind, filename, size_bytes, sha256.
    document_attached = "document_attached"
    #: A request document was read (decrypted for someone), before it is shown. ref: request
    #: id; data: request_id, document_id, kind, filename, size_bytes, sha256.
    document_read = "document_read"
    #: The list of accounts was read (personal data of staff), before it is shown. data: rows,
    #: via ("cli").
    accounts_read = "accounts_read"
    #: The list of holds was read, before it is shown. data: rows, include_released, via.
    holds_read = "holds_read"
    #: data: username, remote (address).
    login_success = "login_success"
    #: data: username, remote, reason.
    login_failure = "login_failure"
    #: data: username.
    logout = "logout"
    #: data: username, role, department, title.
    user_created = "user_created"
    #: data: username, changes (field -> [old, new]; never a password).
    user_changed = "user_changed"
    #: data: username, reason.
    user_disabled = "user_disabled"
    #: Access right granted or revoked (R-SEC-2). data: username, cameras, granted (bool),
    #: role.
    grant_changed = "grant_changed"
    #: data: what (section or "cameras"), changes (added/changed/removed ...).
    config_changed = "config_changed"
    #: data: key_id, kind ("vault"/"signing").
    key_created = "key_created"
    #: data: old_key_id, new_key_id, segments (resealed count).
    key_rotated = "key_rotated"
    #: data: key_id, reason.
    key_destroyed = "key_destroyed"
    #: data: key_id.
    vault_unlocked = "vault_unlocked"
    #: data: key_id, reason.
    vault_locked = "vault_locked"
    #: Footage destroyed (파기, R-RET-4): one entry per batch and camera. camera_id; data:
    #: from_ms, to_ms, segments, size_bytes, method, reason, destruction_id, officer (optional).
    purge = "purge"
    #: data: problems (list of str), repaired (int).
    fsck_repair = "fsck_repair"
    #: An export package was destroyed (파기): file overwritten and unlinked, the vault's copy of
    #: its key nulled. ref: export id; data: request_id, file, blake2b, size_bytes, cameras,
    #: from_ms, to_ms, handed_over_ms, method, reason, destruction_id.
    export_destroyed = "export_destroyed"
    #: A request's document was destroyed (파기): ciphertext and sealed key nulled. ref: request
    #: id; data: document_id, kind, sha256, size_bytes, uploaded_ms, method, reason,
    #: destruction_id.
    document_destroyed = "document_destroyed"
    #: The ledger's own retention cut. data: cut_seq, cut_hash, entries_removed, cutoff_ms.
    ledger_checkpoint = "ledger_checkpoint"
    #: The management or destruction ledger was read (R-SEC-3: reading who viewed what is an
    #: access too). data: ledger ("management"/"destruction"), from_ms, to_ms, format, rows,
    #: filters (types, camera, person).
    ledger_read = "ledger_read"
    #: data: version, services.
    system_start = "system_start"
    #: data: version.
    system_stop = "system_stop"
    # -- backup and restore (issue 18, design/backup.md)
    #: An encrypted, signed backup archive was written. data: file, blake2b, size_bytes,
    #: head_seq, schema, database.
    backup_taken = "backup_taken"
    #: The database was restored from a backup; what happened after the backup is gone from it.
    #: Continuity treats it like a restart. data: archive, taken_ms, backup_tip_seq, schema,
    #: footage_removed, keys_destroyed, openable.
    backup_restored = "backup_restored"
    #: The schema was migrated (a copy taken first). data: from, to.
    schema_upgraded = "schema_upgraded"
    #: An open alarm was acknowledged (issue 15). ref: alarm id; data: kind, subject, note.
    alarm_acknowledged = "alarm_acknowledged"
    #: A version of the operating policy was published (issue 17, R-DOC-4). ref: policy
    #: version number; data: version, sha256, lang, announced_on, effective_on, previous_sha256.
    policy_published = "policy_published"
