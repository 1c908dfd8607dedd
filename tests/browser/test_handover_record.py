"""The hand-over record in Debian's Chromium (issue 20): the officer opens it from the request
page, in Korean and then in English; every file's SHA-256 is on it, the print button prints,
and in print emulation it is one A4 page (Chromium's own PDF of it has one page) for a copy of
several files. Screenshots of both languages, on screen and as printed, go to SHOTS."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from api.web import translations
from appliance.ledger import EventType
from tests.support.browser import Site
from tests.support.desk import sign_in
from tests.support.handover import handed_copy

KO = translations("ko")
EN = translations("en")
SHOTS = Path(os.environ.get("DESK_SCREENSHOTS", os.path.join(tempfile.gettempdir(), "desk-shots")))
A4_WIDTH_PX, A4_HEIGHT_PX = 210 / 25.4 * 96, 297 / 25.4 * 96  # CSS pixels of an A4 page


def _pdf_pages(pdf: bytes) -> int:
    """Pages of a PDF Chromium wrote (its page objects are plain dictionaries)."""
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    counts = [int(n) for n in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)]
    assert pages >= 1 and (not counts or max(counts) == pages), (pages, counts)
    return pages


def _check_print(page: Any, name: str) -> float:
    """One A4 page when printed; returns how much of the page's height the record uses."""
    page.emulate_media(media="print")
    # The page as printed: print CSS at an A4 page's width (what the PDF holds, as a picture).
    page.set_viewport_size({"width": round(A4_WIDTH_PX), "height": round(A4_HEIGHT_PX)})
    page.screenshot(path=str(SHOTS / f"{name}-print.png"), full_page=True)
    used = page.evaluate("document.getElementById('handover-record').scrollHeight")
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    (SHOTS / f"{name}.pdf").write_bytes(pdf)
    assert _pdf_pages(pdf) == 1, f"{name}: the record does not fit one A4 page"
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1280, "height": 800})
    return float(used) / A4_HEIGHT_PX


def test_the_record_prints_on_one_a4_page_in_both_languages(site: Site, open_tab: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    copy = handed_copy(site.ctx, cameras=("cam01", "cam02"), hours_ago=5)
    rid, made = copy.request_id, copy.export
    tab = open_tab()
    page = tab.page
    sign_in(tab, "officer", f"/requests/{rid}")
    with page.expect_navigation():
        page.click("a.handover-record")
    assert page.inner_text("h1") == KO["handover.title"]
    files = page.inner_text("#record-files")
    hashes = re.findall(r"\b[0-9a-f]{64}\b", files)
    assert made.sha256_hex in hashes
    assert len(hashes) == 7  # the package, two videos, manifest, README, signature, SHA256SUMS
    assert "cam01" in page.inner_text("#record-scope") and "cam02" in page.inner_text(
        "#record-scope"
    )
    page.screenshot(path=str(SHOTS / "handover-ko.png"), full_page=True)
    used_ko = _check_print(page, "handover-ko")

    # The print button calls the browser's print (replaced here: headless has no dialog).
    page.evaluate("() => { window.print = () => { window.printed = (window.printed || 0) + 1; }; }")
    page.click("#print-record")
    assert page.evaluate("window.printed") == 1

    with page.expect_navigation():
        page.click("a.lang")
    assert page.inner_text("h1") == EN["handover.title"]
    assert made.sha256_hex in page.inner_text("#record-files")
    assert "Basis stated in the request" in page.inner_text("#record-basis")
    page.screenshot(path=str(SHOTS / "handover-en.png"), full_page=True)
    used_en = _check_print(page, "handover-en")
    # Room to spare: a copy of several more cameras still fits (about 7 mm per file row).
    assert used_ko < 0.9 and used_en < 0.9, (used_ko, used_en)
    assert not tab.errors, tab.errors

    reads = site.ctx.ledger.entries(refs=[str(rid)], events=[EventType.handover_record], limit=None)
    assert [(e.actor, e.data["via"]) for e in reads] == [("officer", "web")] * 2
