"""Key rotation: new segments use the new key; the old private key is destroyed, and the
destruction recorded, once no footage sealed to it remains (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from appliance.clock import FakeClock
from appliance.errors import NotFound, VaultLocked
from appliance.ledger import EventType
from appliance.models import DestructionRecord, Segment, VaultKey
from appliance.retention import Reason, Retention, destroy_retired_keys
from appliance.vault import Vault
from tests.support.principals import OFFICER
from tests.support.retention import CtxFactory
from tests.support.segments import make_segments

PASS = "correct horse battery staple"


def test_rotation_then_old_key_destroyed_when_unused(
    make_ctx: CtxFactory, clock: FakeClock
) -> None:
    ctx = make_ctx()
    vault = ctx.vault
    old = vault.current_key_id()
    t0 = clock.now_ms()
    (old_segment,) = make_segments(ctx, "cam01", [t0])

    new = ctx.vault_keeper.rotate(actor="admin")
    assert new != old and vault.current_key_id() == new
    (new_segment,) = make_segments(ctx, "cam01", [t0 + 20 * 86_400_000])
    with ctx.db.session() as session:
        rows = {s.id: s for s in session.exec(select(Segment)).all()}
    assert rows[old_segment.id].vault_key_id == old
    assert rows[new_segment.id].vault_key_id == new
    sealed_old = rows[old_segment.id].sealed_key
    assert sealed_old is not None
    assert vault.open_segment_key(old, sealed_old) == old_segment.segment_key

    # Footage sealed to the old key remains: the cycle keeps the key.
    assert Retention(ctx).run_cycle().destroyed_keys == []
    assert vault.has_private_key(old)

    # Day 30: that footage is purged, and with it the last use of the old key.
    clock.advance(timedelta(days=30))
    report = Retention(ctx).run_cycle()
    assert report.expired.segments == 1 and report.destroyed_keys == [old]
    assert not vault.has_private_key(old)
    assert (ctx.settings.storage.key_dir / "vault" / f"{old}.pub").exists()  # names the key
    with pytest.raises(NotFound, match="no private key file"):
        vault.open_segment_key(old, sealed_old)
    with ctx.db.session() as session:
        registry = {k.key_id: k for k in session.exec(select(VaultKey)).all()}
        (record,) = session.exec(
            select(DestructionRecord).where(DestructionRecord.vault_key_id == old)
        ).all()
    assert registry[old].destroyed_ms == clock.now_ms() and registry[new].retired_ms is None
    assert record.reason == Reason.key_rotation.value and record.camera_id is None
    events = ctx.ledger.entries(events=[EventType.key_rotated, EventType.key_destroyed])
    assert [(e.event, e.data.get("key_id", e.data.get("old_key_id"))) for e in events] == [
        ("key_rotated", old),
        ("key_destroyed", old),
    ]
    assert ctx.ledger.verify().ok


def test_rotation_with_passphrase_needs_no_unlock(make_ctx: CtxFactory, clock: FakeClock) -> None:
    ctx = make_ctx()
    ctx.vault.set_passphrase(PASS)
    ctx.vault.lock()
    new = ctx.vault_keeper.rotate(actor="admin")  # sealed to the keyring's public key
    (made,) = make_segments(ctx, "cam01", [clock.now_ms()])
    with ctx.db.session() as session:
        row = session.get(Segment, made.id)
    assert row is not None and row.vault_key_id == new and row.sealed_key is not None
    with pytest.raises(VaultLocked):
        ctx.vault.open_segment_key(new, row.sealed_key)
    fresh = Vault(ctx.settings.storage.key_dir, clock, "interactive")
    fresh.unlock(PASS)
    assert fresh.open_segment_key(new, row.sealed_key) == made.segment_key


def test_grace_and_a_crash_between_record_and_destroy(
    make_ctx: CtxFactory, clock: FakeClock
) -> None:
    ctx = make_ctx(retention={"batch_size": 50, "retired_key_grace_s": 3600})
    old = ctx.vault.current_key_id()
    ctx.vault_keeper.rotate(actor="admin")
    assert destroy_retired_keys(ctx, "retention") == []  # unused, but within the grace
    clock.advance(3600)
    key_file = ctx.settings.storage.key_dir / "vault" / f"{old}.key"
    saved = key_file.read_bytes()
    assert destroy_retired_keys(ctx, "retention") == [old]
    assert not key_file.exists()
    # As if the process died after recording and before the overwrite: the file is back.
    key_file.write_bytes(saved)
    assert destroy_retired_keys(ctx, "retention") == []  # recorded once only ...
    assert not key_file.exists()  # ... and the file goes
    with ctx.db.session() as session:
        assert len(session.exec(select(DestructionRecord)).all()) == 1


def test_a_document_sealed_to_a_retired_key_keeps_it(
    make_ctx: CtxFactory, clock: FakeClock
) -> None:
    """A request's encrypted letter needs the key as much as footage does: the key stays
    until the requests service has re-sealed the document to the current key."""
    from appliance.requests import (
        DocumentKind,
        NewRequest,
        RequesterKind,
        RequestKind,
        RequestService,
        Upload,
    )

    ctx = make_ctx(retention={"batch_size": 50, "retired_key_grace_s": 3600})
    old = ctx.vault.current_key_id()
    requests = RequestService(ctx)
    now = clock.now_ms()
    request = requests.receive(
        OFFICER,
        NewRequest(
            kind=RequestKind.viewing,
            requester_kind=RequesterKind.police,
            requester_name="강남경찰서",
            camera_ids=("cam01",),
            start_ms=now - 3_600_000,
            end_ms=now - 60_000,
            letter_reference="강남서 수사과-2026-0101",
        ),
        documents=[Upload(DocumentKind.official_letter, "공문.pdf", "application/pdf", b"%PDF-")],
    )
    ctx.vault_keeper.rotate(actor="admin")
    clock.advance(7200)
    assert destroy_retired_keys(ctx, "retention") == []  # the letter is sealed to it
    assert ctx.vault.has_private_key(old)
    assert requests.reseal_documents() == 1
    assert destroy_retired_keys(ctx, "retention") == [old]
    (listed,) = requests.documents(OFFICER, request.id or 0)
    document, plaintext = requests.read_document(OFFICER, request.id or 0, listed.id or 0)
    assert plaintext == b"%PDF-" and document.vault_key_id != old
