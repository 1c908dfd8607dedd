"""Masked, signed, encrypted exports of footage (R-REQ-5, design/export.md).

``masking`` turns an in-memory MP4 into a masked one; ``package`` signs and encrypts the
result into one file; ``service`` (with the request workflow) gathers the footage, writes the
ledger entry and stores the package. Plaintext only ever lives in memory (invariant 1).
"""

from __future__ import annotations

from appliance.export.masking import MaskedVideo, MaskSummary, mask_video
from appliance.export.options import MaskingOptions, MaskMethod, MaskPlan
from appliance.export.package import (
    PackageContents,
    VerifyReport,
    build_package,
    fingerprint,
    generate_passphrase,
    open_package,
    read_header,
    store_package,
    verify_package,
)
from appliance.export.regions import MaskKind, NormRect, Region

__all__ = [
    "MaskKind",
    "MaskMethod",
    "MaskPlan",
    "MaskSummary",
    "MaskedVideo",
    "MaskingOptions",
    "NormRect",
    "PackageContents",
    "Region",
    "VerifyReport",
    "build_package",
    "fingerprint",
    "generate_passphrase",
    "mask_video",
    "open_package",
    "read_header",
    "store_package",
    "verify_package",
]
