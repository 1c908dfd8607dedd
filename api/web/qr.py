"""QR codes drawn on the appliance (segno: no external service sees a TOTP secret)."""

from __future__ import annotations

import segno

__all__ = ["qr_png_data_uri"]


def qr_png_data_uri(text: str, scale: int = 6) -> str:
    """``text`` as a QR code in a ``data:image/png`` URI (the pages' CSP allows ``data:``)."""
    return str(segno.make(text, error="m").png_data_uri(scale=scale, border=4))
