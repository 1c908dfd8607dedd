"""Rendering the management ledger: CSV for spreadsheets, the printable HTML page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from appliance.ledger.management.rows import COLUMNS, ManagementRow

__all__ = ["to_csv", "to_html"]


def _cell(value: object) -> str:
    text = str(value)
    # A cell starting like a formula would run in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Iterable[ManagementRow]) -> str:
    """CSV with Korean headers; write it as UTF-8 with a BOM (``utf-8-sig``) for Excel."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for _, header in COLUMNS])
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name, _ in COLUMNS])
    return out.getvalue()


_ENV = Environment(
    loader=PackageLoader("appliance.ledger", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def to_html(
    rows: Sequence[ManagementRow],
    *,
    site_name: str,
    officer: str,
    range_text: str,
    generated_at: str,
    tip_text: str,
) -> str:
    """The printable page (A4 landscape) with Korean headers and signature boxes."""
    template = _ENV.get_template("management.html")
    return template.render(
        rows=rows,
        columns=COLUMNS,
        site_name=site_name,
        officer=officer,
        range_text=range_text,
        generated_at=generated_at,
        tip_text=tip_text,
    )
