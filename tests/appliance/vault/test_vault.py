"""The vault: passphrase sealing, unlock/lock, and recording that goes on while locked."""

from __future__ import annotations

import json
import os

import pytest
from nacl.public import PublicKey, SealedBox

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.errors import AuthenticationFailed, Conflict, ValidationFailed, VaultLocked
from appliance.ledger import EventType
from appliance.vault import Vault
from tests.support.segments import make_segments

PASS = "correct horse battery staple"


def _fresh(ctx: AppContext, clock: FakeClock) -> Vault:
    """A vault as a newly started process sees it (nothing in memory)."""
    return Vault(ctx.settings.storage.key_dir, clock, "interactive")


def test_without_passphrase_the_vault_is_open(ctx: AppContext) -> None:
    (made,) = make_segments(ctx, "cam01", [ctx.clock.now_ms()])
    vault = ctx.vault
    assert vault.is_unlocked and not vault.has_passphrase
    key_id, _ = vault.current_public_key()
    with ctx.db.session() as session:
        from appliance.models import Segment

        row = session.get(Segment, made.id)
        assert row is not None and row.sealed_key is not None
        assert vault.open_segment_key(key_id, row.sealed_key) == made.segment_key
    with pytest.raises(Conflict, match="no passphrase is set"):
        vault.lock()  # nothing to lock it with


def test_passphrase_seals_private_keys_on_disk(ctx: AppContext, clock: FakeClock) -> None:
    key_dir = ctx.settings.storage.key_dir / "vault"
    key_id = ctx.vault.current_key_id()
    plain = json.loads((key_dir / f"{key_id}.key").read_text())["private_hex"]
    ctx.vault.set_passphrase(PASS)
    text = (key_dir / f"{key_id}.key").read_text()
    assert plain not in text and "private_hex" not in text
    assert json.loads(text)["kdf"] == "keyring"
    ring = (key_dir / "keyring.json").read_text()
    assert plain not in ring and PASS not in ring
    assert oct((key_dir / f"{key_id}.key").stat().st_mode & 0o777) == "0o600"
    assert oct((key_dir / "keyring.json").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ValidationFailed, match="at least 10 characters"):
        ctx.vault.set_passphrase("short")


def test_locked_vault_refuses_viewing_while_recording_goes_on(
    ctx: AppContext, clock: FakeClock
) -> None:
    ctx.vault.set_passphrase(PASS)
    vault = _fresh(ctx, clock)  # after a reboot: locked
    assert vault.has_passphrase and not vault.is_unlocked

    # The "recorder" keeps sealing new segment keys with the public key only.
    key_id, public = vault.current_public_key()
    segment_key = os.urandom(32)
    sealed = SealedBox(PublicKey(public)).encrypt(segment_key)
    sealed_id, sealed2 = vault.seal_segment_key(segment_key)
    assert sealed_id == key_id

    with pytest.raises(VaultLocked):
        vault.open_segment_key(key_id, sealed)
    with pytest.raises(AuthenticationFailed, match="wrong vault passphrase"):
        vault.unlock("wrong passphrase!")
    assert not vault.is_unlocked

    vault.unlock(PASS)
    assert vault.open_segment_key(key_id, sealed) == segment_key
    assert vault.open_segment_key(sealed_id, sealed2) == segment_key
    vault.lock()
    with pytest.raises(VaultLocked):
        vault.open_segment_key(key_id, sealed)


def test_change_passphrase(ctx: AppContext, clock: FakeClock) -> None:
    ctx.vault.set_passphrase(PASS)
    with pytest.raises(AuthenticationFailed, match="wrong vault passphrase"):
        _fresh(ctx, clock).set_passphrase("another long one", current="not the passphrase")
    _fresh(ctx, clock).set_passphrase("another long one", current=PASS)
    vault = _fresh(ctx, clock)
    with pytest.raises(AuthenticationFailed, match="wrong vault passphrase"):
        vault.unlock(PASS)
    vault.unlock("another long one")
    assert vault.is_unlocked


def test_unlock_and_lock_are_in_the_ledger(ctx: AppContext) -> None:
    ctx.vault.set_passphrase(PASS)
    ctx.vault.lock()
    with pytest.raises(AuthenticationFailed, match="wrong vault passphrase"):
        ctx.vault_keeper.unlock("wrong passphrase!", actor="operator")
    ctx.vault_keeper.unlock(PASS, actor="operator")
    ctx.vault_keeper.lock(actor="operator")
    kinds = [EventType.login_failure, EventType.vault_unlocked, EventType.vault_locked]
    entries = ctx.ledger.entries(events=kinds)
    assert [e.event for e in entries] == ["login_failure", "vault_unlocked", "vault_locked"]
    assert entries[0].data["reason"] == "wrong vault passphrase"
