"""The destruction ledger (R-RET-4): queries and the CSV / printable exports (Korean headers)."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, or_, select

from appliance.clock import from_ms
from appliance.models import Camera, DestructionRecord

__all__ = [
    "HEADERS_KO",
    "METHOD_KO",
    "REASON_KO",
    "TARGET_KO",
    "Method",
    "Reason",
    "camera_names",
    "find_destruction",
    "list_destruction",
    "purge_event_data",
    "to_csv",
    "to_html",
]


class Method(StrEnum):
    """How footage or a key was destroyed."""

    shred_unlink = "key destroyed + file unlinked"  # crypto-shred, then unlink
    # the same with an object store (issue 19): the object and any cached copy deleted too
    shred_unlink_object = "key destroyed + file and object deleted"
    key_destroyed = "vault private key destroyed"  # overwritten, fsynced, unlinked
    index_removed = "index row removed (file missing)"  # fsck: nothing left to destroy
    package_shredded = "package overwritten + unlinked, key copy destroyed"  # an export
    document_shredded = "document and its key destroyed"  # a request's document
    export_key_destroyed = "key copy destroyed (package file missing)"  # fsck


class Reason(StrEnum):
    retention = "retention"
    storage_pressure = "storage pressure"
    deletion_request = "deletion request"
    key_rotation = "key rotation"
    file_missing = "file missing (fsck)"
    export_retention = "export retention"  # requests.export_keep_days
    document_retention = "document retention"  # requests.document_keep_days


def purge_event_data(record: DestructionRecord) -> dict[str, Any]:
    """The data of the ledger's ``purge`` entry for ``record`` (a flushed row: it has an id)."""
    return {
        "from_ms": record.start_ms,
        "to_ms": record.end_ms,
        "segments": record.segment_count,
        "size_bytes": record.size_bytes,
        "method": record.method,
        "reason": record.reason,
        "destruction_id": record.id,
        "segments_digest": record.segments_digest,
    }


METHOD_KO = {
    Method.shred_unlink: "암호키 파기 후 파일 삭제 (복구 불가)",
    Method.shred_unlink_object: "암호키 파기 후 파일 및 오브젝트 삭제 (복구 불가)",
    Method.key_destroyed: "볼트 개인키 덮어쓰기 후 삭제",
    Method.index_removed: "색인 삭제 (파일 유실)",
    Method.package_shredded: "사본 파일 덮어쓰기 후 삭제, 암호키 사본 파기",
    Method.document_shredded: "서류 암호문과 암호키 파기",
    Method.export_key_destroyed: "암호키 사본 파기 (사본 파일 유실)",
}
REASON_KO = {
    Reason.retention: "보관기간 경과",
    Reason.storage_pressure: "저장공간 부족",
    Reason.deletion_request: "삭제 요청",
    Reason.key_rotation: "암호키 교체",
    Reason.file_missing: "파일 유실 (무결성 점검)",
    Reason.export_retention: "사본 보관기간 경과",
    Reason.document_retention: "서류 보관기간 경과",
}
#: What a record without a camera destroyed, by method (the record's note names which one).
TARGET_KO: dict[str, str] = {
    Method.package_shredded: "반출 사본",
    Method.document_shredded: "신청 서류",
    Method.export_key_destroyed: "반출 사본",
}
HEADERS_KO = (
    "번호",
    "파기 일시",
    "파기 대상",
    "영상 기간",
    "세그먼트 수",
    "용량(바이트)",
    "파기 방법",
    "파기 사유",
    "처리자",
    "비고",
)


def find_destruction(
    session: Session, camera_id: str, start_ms: int, end_ms: int
) -> list[DestructionRecord]:
    """Records of footage of ``camera_id`` destroyed within [start_ms, end_ms], oldest first.

    A refusal on the ground "already destroyed" (R-REQ-4) cites these.
    """
    return list(
        session.exec(
            select(DestructionRecord)
            .where(
                DestructionRecord.camera_id == camera_id,
                col(DestructionRecord.start_ms) <= end_ms,
                col(DestructionRecord.end_ms) >= start_ms,
            )
            .order_by(col(DestructionRecord.start_ms))
        ).all()
    )


def list_destruction(
    session: Session,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    camera_id: str | None = None,
) -> list[DestructionRecord]:
    """Records executed in [since_ms, until_ms), optionally of one camera, in execution order."""
    query = select(DestructionRecord)
    if since_ms is not None:
        query = query.where(DestructionRecord.executed_ms >= since_ms)
    if until_ms is not None:
        query = query.where(DestructionRecord.executed_ms < until_ms)
    if camera_id is not None:
        query = query.where(
            or_(
                DestructionRecord.camera_id == camera_id, col(DestructionRecord.camera_id).is_(None)
            )
        )
    return list(session.exec(query.order_by(col(DestructionRecord.id))).all())


def _when(ms: int | None, zone: ZoneInfo) -> str:
    if ms is None:
        return ""
    return datetime.astimezone(from_ms(ms), zone).strftime("%Y-%m-%d %H:%M:%S")


def _rows(
    records: Sequence[DestructionRecord], zone: ZoneInfo, camera_names: dict[str, str]
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for rec in records:
        derived = TARGET_KO.get(rec.method)
        if derived is not None:
            target = derived
        elif rec.camera_id is None:
            target = f"볼트 키 {rec.vault_key_id}"
        else:
            target = f"{camera_names.get(rec.camera_id, rec.camera_id)} ({rec.camera_id})"
        span = ""
        if rec.start_ms is not None:
            span = f"{_when(rec.start_ms, zone)} ~ {_when(rec.end_ms, zone)}"
        note = rec.note
        if rec.segments_digest:
            note = f"{note} 해시 {rec.segments_digest[:16]}".strip()
        rows.append(
            (
                str(rec.id),
                _when(rec.executed_ms, zone),
                target,
                span,
                str(rec.segment_count),
                str(rec.size_bytes),
                METHOD_KO.get(Method(rec.method), rec.method),
                REASON_KO.get(Reason(rec.reason), rec.reason),
                rec.executed_by,
                note,
            )
        )
    return rows


def camera_names(session: Session) -> dict[str, str]:
    return {cam.id: cam.name for cam in session.exec(select(Camera)).all()}


def to_csv(
    records: Sequence[DestructionRecord], zone: ZoneInfo, names: dict[str, str] | None = None
) -> str:
    """CSV with Korean headers, UTF-8 with a byte-order mark so spreadsheet tools read it; a cell
    that starts like a formula gets a leading apostrophe."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS_KO)
    writer.writerows([_cell(v) for v in row] for row in _rows(records, zone, names or {}))
    return out.getvalue()


# Cells a spreadsheet would run as a formula (OWASP "CSV injection"): camera names, operators'
# names and notes are typed by people.
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """``text`` with a leading apostrophe if it starts like a formula (shown as typed)."""
    return "'" + text if text.startswith(_FORMULA_LEADS) else text


_PAGE = """<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: "Noto Sans KR", "Malgun Gothic", sans-serif; margin: 2em; }}
h1 {{ font-size: 1.4em; }} p.meta {{ color: #333; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.85em; }}
th, td {{ border: 1px solid #000; padding: 0.3em 0.4em; vertical-align: top; }}
th {{ background: #eee; }}
td.num {{ text-align: right; }}
.sign {{ margin-top: 3em; text-align: right; }}
@media print {{ body {{ margin: 0; }} @page {{ size: A4 landscape; margin: 12mm; }} }}
</style></head><body>
<h1>{title}</h1>
<p class="meta">{site} · 출력 {printed} · {count}건</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<p class="sign">영상정보 보호책임자 {officer} (서명)</p>
</body></html>
"""


def to_html(
    records: Sequence[DestructionRecord],
    zone: ZoneInfo,
    *,
    site: str,
    officer: str,
    printed_ms: int,
    names: dict[str, str] | None = None,
) -> str:
    """A printable page (A4 landscape) of the destruction ledger, headers in Korean."""
    numeric = {4, 5}
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{html.escape(v)}</td>'
            if i in numeric
            else f"<td>{html.escape(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in _rows(records, zone, names or {})
    )
    return _PAGE.format(
        title="개인영상정보 파기 대장",
        site=html.escape(site),
        printed=_when(printed_ms, zone),
        count=len(records),
        head="".join(f"<th>{html.escape(h)}</th>" for h in HEADERS_KO),
        body=body,
        officer=html.escape(officer),
    )
