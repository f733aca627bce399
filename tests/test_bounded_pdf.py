"""Huge estate text in the PDF: a 200,000-character resource name, a name of 30,000 zero-width
characters. WeasyPrint broke such a word inside its table cell at a cost far beyond its length
(29 s for one name), so the print layout shows the first `TEXT_LIMIT` characters (or
`CHIP_LIMIT` hidden-character chips) and says how much it left out; the JSON report keeps every
character. Reports of ordinary estates are unchanged, byte for byte.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from reports import html, json_report, pdf
from reports.options import RenderOptions
from scanner.models import ScanResult, Status
from tests.reports.conftest import FINDINGS, arm_id, finding, scan_result

HUGE = "st" + "x" * 200_000
HIDDEN = "kv" + "\u200b" * 30_000
LEFT_OUT = "more characters; the JSON report holds the whole value)"


def _hostile() -> ScanResult:
    storage = arm_id("Microsoft.Storage/storageAccounts", HUGE)
    vault = arm_id("Microsoft.KeyVault/vaults", HIDDEN)
    extra = (
        finding("MLW-KV-001", vault, Status.FAIL, f"vault {HIDDEN}: purge protection is off"),
        finding("MLW-WS-001", storage, Status.FAIL, f"workspace {HUGE} is public"),
    )
    return scan_result(FINDINGS + extra)


@pytest.mark.parametrize("detail", ["summary", "full"])
def test_huge_words_and_chip_rows_are_cut_in_the_print_layout(detail: str) -> None:
    page = pdf.render_html(_hostile(), RenderOptions(pdf_detail=detail))
    body = page[page.index("<body") :]
    words = re.findall(r"[^<>\s]+", body)
    assert max(map(len, words)) <= pdf.TEXT_LIMIT + 1
    assert f"\u2026 (198,002 {LEFT_OUT}" in body
    chips = re.findall(r'<span class="cc">\[U\+200B\]</span>', body)
    assert len(chips) % pdf.CHIP_LIMIT == 0  # each mention shows CHIP_LIMIT chips, then the count
    if detail == "full":  # the summary names no resource of this check
        assert chips and f"\u2026 (29,800 {LEFT_OUT}" in body
    assert len(page) < 600_000


def test_the_json_report_keeps_every_character() -> None:
    document = json.loads(json_report.render(_hostile()))
    ids = {row["resource_id"] for row in document["findings"]}
    assert arm_id("Microsoft.Storage/storageAccounts", HUGE) in ids
    assert arm_id("Microsoft.KeyVault/vaults", HIDDEN) in ids


def test_the_pdf_of_a_huge_name_is_short_and_says_what_it_left_out() -> None:
    pytest.importorskip("weasyprint")
    from pypdf import PdfReader

    data = pdf.render(_hostile(), RenderOptions(pdf_detail="full"))
    reader = PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "198,002 more characters" in " ".join(text.split())
    assert len(reader.pages) < 40


@pytest.mark.parametrize("detail", ["summary", "full"])
def test_an_ordinary_report_is_not_changed_by_the_bound(demo_result: ScanResult, detail: str) -> None:
    view = html.build_view(demo_result, media="print", detail=detail)
    page = html.render_view(demo_result, view, paper="A4")
    assert pdf.bounded(page) is page or pdf.bounded(page) == page
    assert pdf.render_html(demo_result, RenderOptions(pdf_detail=detail)) == page


@pytest.fixture(scope="module")
def demo_result() -> ScanResult:
    from frameworks.catalog import load_all
    from scanner.engine import scan
    from scanner.registry import TAGS, load_checks
    from scanner.snapshot import read_demo

    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    return scan(read_demo(), origin="demo", checks=checks, frameworks=frameworks, jobs=1)
