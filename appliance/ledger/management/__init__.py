"""The management ledger (개인영상정보 관리대장), derived from ledger entries (R-VIEW-2).

``rows`` builds the rows from entries (pure), ``query`` reads a range's entries and filters the
rows, ``render`` writes them as CSV or the printable page. Import from here.
"""

from __future__ import annotations

from appliance.ledger.management.query import ManagementQuery, management_rows
from appliance.ledger.management.render import to_csv, to_html
from appliance.ledger.management.rows import (
    COLUMNS,
    KIND_LABELS,
    ManagementKind,
    ManagementRow,
    build_rows,
)

__all__ = [
    "COLUMNS",
    "KIND_LABELS",
    "ManagementKind",
    "ManagementQuery",
    "ManagementRow",
    "build_rows",
    "management_rows",
    "to_csv",
    "to_html",
]
