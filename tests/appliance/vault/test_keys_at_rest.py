"""Keys at rest (issue 12): with a passphrase no private key, vault or signing, is in clear in
any key dir file, and a replaced key file's old content is overwritten, not just unlinked."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from appliance.clock import FakeClock
from appliance.errors import VaultLocked
from appliance.keys import load_signing_key, read_signing_key_file
from appliance.retention.keys import key_upkeep
from appliance.vault import Vault
from tests.support.retention import CtxFactory

PASS = "correct horse battery staple"


def _key_dir_bytes(key_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(key_dir.rglob("*")) if p.is_file())


def _plain_secrets(key_dir: Path) -> list[bytes]:
    """The private key material of a key dir without a passphrase, raw and in hex."""
    found: list[bytes] = []
    for path in (key_dir / "vault").glob("*.key"):
        private_hex = json.loads(path.read_text())["private_hex"]
        found += [private_hex.encode(), bytes.fromhex(private_hex)]
    seed_hex = read_signing_key_file(key_dir)["seed_hex"]
    return [*found, seed_hex.encode(), bytes.fromhex(seed_hex)]


def test_setting_a_passphrase_leaves_no_plaintext_key_in_the_key_dir(
    make_ctx: CtxFactory,
) -> None:
    ctx = make_ctx()
    key_dir = ctx.settings.storage.key_dir
    ctx.vault_keeper.rotate(actor="admin")  # two vault keys, both in clear
    secrets = _plain_secrets(key_dir)
    signing_seed = bytes(load_signing_key(key_dir))
    # Hold the old inodes open: after the replacement they must hold no key either (the
    # blocks were overwritten before the unlink, not merely renamed over).
    old = [os.open(p, os.O_RDONLY) for p in sorted(key_dir.rglob("*.key"))]
    try:
        ctx.vault.set_passphrase(PASS)
        leftovers = [os.pread(fd, 1 << 16, 0) for fd in old]
    finally:
        for fd in old:
            os.close(fd)
    raw = _key_dir_bytes(key_dir)
    for secret in secrets:
        assert secret not in raw
        assert all(secret not in data for data in leftovers)
    assert not list(key_dir.rglob("*.old")) and not list(key_dir.rglob("*.tmp"))
    assert read_signing_key_file(key_dir)["kdf"] == "keyring"
    # The same signing key, now sealed: heads still verify with the published verify key.
    assert bytes(load_signing_key(key_dir)) == signing_seed
    assert ctx.ledger.sign_head() and ctx.ledger.verify().ok


def test_the_signing_key_opens_only_with_the_passphrase(
    make_ctx: CtxFactory, clock: FakeClock, tmp_path: Path
) -> None:
    ctx = make_ctx()
    key_dir = ctx.settings.storage.key_dir
    seed = bytes(load_signing_key(key_dir))
    ctx.vault.set_passphrase(PASS)
    # A copy of the key dir is another box: nothing there was unlocked.
    copy = tmp_path / "stolen-keys"
    shutil.copytree(key_dir, copy)
    assert seed not in _key_dir_bytes(copy) and seed.hex().encode() not in _key_dir_bytes(copy)
    with pytest.raises(VaultLocked, match="signing key is sealed"):
        load_signing_key(copy)
    stolen = Vault(copy, clock, "interactive")
    stolen.lock()
    with pytest.raises(VaultLocked):
        load_signing_key(copy)
    stolen.unlock(PASS)
    stolen.lock()  # locking viewing keeps the signing key: heads go on being signed
    assert bytes(load_signing_key(copy)) == seed


def test_an_interrupted_replacement_is_destroyed_by_the_upkeep(make_ctx: CtxFactory) -> None:
    ctx = make_ctx()
    key_dir = ctx.settings.storage.key_dir
    leftover = key_dir / "signing" / "ed25519.key.old"
    leftover.write_bytes((key_dir / "signing" / "ed25519.key").read_bytes())
    key_upkeep(ctx, "retention")
    assert not leftover.exists()
