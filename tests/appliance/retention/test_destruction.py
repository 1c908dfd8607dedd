"""The destruction ledger's exports: CSV and a printable page with Korean headers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from appliance.clock import FakeClock
from appliance.context import AppContext
from appliance.retention import Retention, list_destruction, to_csv, to_html
from appliance.retention.destruction import HEADERS_KO, camera_names
from tests.support.segments import MINUTE_MS, make_segments


def test_csv_and_printable_page(ctx: AppContext, clock: FakeClock) -> None:
    t0 = clock.now_ms()
    make_segments(ctx, "cam01", [t0 + i * MINUTE_MS for i in range(3)], size_bytes=500)
    make_segments(ctx, "cam02", [t0], size_bytes=700)
    ctx.vault_keeper.rotate(actor="admin")
    clock.advance(timedelta(days=31))
    Retention(ctx).run_cycle()
    with ctx.db.session() as session:
        records = list_destruction(session)
        names = camera_names(session)
    assert len(records) == 3  # cam01, cam02, then the old vault key

    text = to_csv(records, ctx.settings.zone, names)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert tuple(rows[0]) == HEADERS_KO
    assert rows[0][1:4] == ["파기 일시", "파기 대상", "영상 기간"]
    cam01 = next(r for r in rows[1:] if "(cam01)" in r[2])
    assert cam01[2] == "로비 (cam01)"
    assert cam01[4] == "3" and cam01[5] == "1500"
    assert cam01[6] == "암호키 파기 후 파일 삭제 (복구 불가)" and cam01[7] == "보관기간 경과"
    assert cam01[8] == "retention"
    assert cam01[3] == "2026-03-01 09:00:00 ~ 2026-03-01 09:03:00"  # Asia/Seoul
    key_row = rows[-1]
    assert key_row[2].startswith("볼트 키 ") and key_row[7] == "암호키 교체"

    page = to_html(
        records,
        ctx.settings.zone,
        site="테스트의원",
        officer="김보호",
        printed_ms=clock.now_ms(),
        names=names,
    )
    for header in ("파기 일시", "파기 대상", "파기 방법", "파기 사유", "처리자"):
        assert f"<th>{header}</th>" in page
    assert "개인영상정보 파기 대장" in page and "@media print" in page
    assert page.count("<tr>") == 4
