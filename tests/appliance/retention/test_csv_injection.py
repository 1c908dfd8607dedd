"""The destruction and management ledgers' CSV neutralise formulas (issue 13, finding 8).

A camera name, an operator's name or a note is typed by people; a cell that starts with
``= + - @``, a tab or a carriage return would run as a formula in a spreadsheet (OWASP "CSV
injection"). Such a cell gets a leading apostrophe; the printable page is only escaped.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from zoneinfo import ZoneInfo

import pytest

from appliance.ledger.management.render import to_csv as management_csv
from appliance.ledger.management.rows import ManagementRow
from appliance.models import DestructionRecord
from appliance.retention import to_csv, to_html
from appliance.retention.destruction import HEADERS_KO, Method, Reason

ZONE = ZoneInfo("Asia/Seoul")


def _record(**changes: object) -> DestructionRecord:
    values: dict[str, object] = {
        "id": 1,
        "executed_ms": 1_772_323_200_000,
        "camera_id": "cam01",
        "segment_count": 3,
        "start_ms": 1_772_236_800_000,
        "end_ms": 1_772_240_400_000,
        "size_bytes": 1024,
        "method": Method.shred_unlink.value,
        "reason": Reason.retention.value,
        "executed_by": "retention",
    }
    values.update(changes)
    return DestructionRecord.model_validate(values)


def _cells(text: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == list(HEADERS_KO)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_cells_get_an_apostrophe(lead: str) -> None:
    evil = f'{lead}HYPERLINK("http://evil","x")'
    records = [_record(executed_by=evil, note=evil)]
    (row,) = _cells(to_csv(records, ZONE, {"cam01": evil}))
    assert row[HEADERS_KO[8]] == "'" + evil
    assert row[HEADERS_KO[9]] == "'" + evil
    assert row[HEADERS_KO[2]] == "'" + evil + " (cam01)"
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())


def test_plain_cells_are_unchanged() -> None:
    (row,) = _cells(to_csv([_record(note="정기 파기")], ZONE, {"cam01": "정문"}))
    assert row[HEADERS_KO[2]] == "정문 (cam01)"
    assert row[HEADERS_KO[9]] == "정기 파기"
    assert row[HEADERS_KO[4]] == "3"


def test_the_printable_page_is_escaped_not_prefixed() -> None:
    page = to_html(
        [_record(note="=1+1 <b>")],
        ZONE,
        site="의원",
        officer="홍길동",
        printed_ms=1_772_323_200_000,
    )
    assert "=1+1 &lt;b&gt;" in page


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_the_management_ledger_csv_neutralises_every_lead(lead: str) -> None:
    names = [f.name for f in dataclasses.fields(ManagementRow)]
    row = ManagementRow(**{n: 1 if n == "seq" else f"{lead}cmd|x" for n in names})  # type: ignore[arg-type]
    (out,) = list(csv.reader(io.StringIO(management_csv([row]).lstrip("\ufeff"))))[1:]
    assert all(cell == f"'{lead}cmd|x" for cell in out[1:])
