"""Bodies of the vault routes (``api.routes.vault``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["UnlockIn", "VaultStatus"]


class VaultStatus(BaseModel):
    unlocked: bool = Field(description="Footage can be decrypted in this process now.")
    passphrase_set: bool = Field(description="A passphrase seals the keys (else never locked).")
    channel_refusal: str | None = Field(
        description="Why a passphrase may not be typed over this connection (None: it may)."
    )


class UnlockIn(BaseModel):
    passphrase: str = Field(min_length=1, max_length=1024)
