"""Huge estate text in the HTML report, cut by the rule the PDF uses (`reports.visible`).

The HTML showed a 200,000-character resource name, tag value or evidence value in full at each
mention (the PDF cut it at 2,000 characters): a page of megabytes per name that a browser lays out
slowly and an auditor cannot read. Now an unbroken word longer than `TEXT_LIMIT` characters, and a
row of more than `CHIP_LIMIT` hidden-character marks, is cut there with how much was left out; the
JSON report keeps every character. Reports of ordinary estates are byte for byte as before.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from reports import html, json_report, visible
from scanner.cli import cli
from scanner.models import Evidence, ScanResult, Status
from tests.reports.conftest import FINDINGS, arm_id, finding, scan_result

HUGE = "st" + "x" * 200_000
HIDDEN = "kv" + "\u200b" * 30_000
TAG_VALUE = "v" * 150_000
LEFT_OUT = "more characters; the JSON report holds the whole value)"


def _hostile() -> ScanResult:
    storage = arm_id("Microsoft.Storage/storageAccounts", HUGE)
    vault = arm_id("Microsoft.KeyVault/vaults", HIDDEN)
    extra = (
        finding("MLW-KV-001", vault, Status.FAIL, f"vault {HIDDEN}: purge protection is off"),
        finding(
            "MLW-WS-001",
            storage,
            Status.FAIL,
            f"workspace {HUGE} is public",
            evidence=(Evidence(path="tags.owner", value=TAG_VALUE),),
        ),
    )
    return scan_result(FINDINGS + extra)


def _words(page: str) -> list[str]:
    body = page[page.index("<body") :]
    return re.findall(r"[^<>\s]+", body)


def test_huge_names_messages_and_evidence_values_are_cut_in_the_html() -> None:
    result = _hostile()
    page = html.render(result).decode()
    assert html.build_view(result).evidence  # the per-finding rows, where the evidence value is written
    assert max(map(len, _words(page))) <= visible.TEXT_LIMIT + 1  # the word, then `…`
    assert f"\u2026 (198,002 {LEFT_OUT}" in page  # the name and the message
    assert f"\u2026 (148,000 {LEFT_OUT}" in page  # the tag value read as evidence
    chips = re.findall(r'<span class="cc">\[U\+200B\]</span>', page)
    assert chips and len(chips) % visible.CHIP_LIMIT == 0  # each mention: CHIP_LIMIT marks, then the count
    assert f"\u2026 (29,800 {LEFT_OUT}" in page
    assert len(page) < 600_000
    assert HUGE not in page and TAG_VALUE not in page


def test_the_json_report_still_holds_every_character() -> None:
    document = json.loads(json_report.render(_hostile()))
    ids = {row["resource_id"] for row in document["findings"]}
    assert arm_id("Microsoft.Storage/storageAccounts", HUGE) in ids
    assert arm_id("Microsoft.KeyVault/vaults", HIDDEN) in ids
    values = [e["value"] for row in document["findings"] for e in row.get("evidence", ())]
    assert TAG_VALUE in values


def test_the_compact_listing_of_a_large_estate_is_cut_too(large: ScanResult) -> None:
    """Past the evidence budget names are written in Python (`_escaped`), not by the template."""
    view = html.build_view(large)
    assert not view.evidence
    page = html.render(large).decode()
    assert max(map(len, _words(page))) <= visible.TEXT_LIMIT + 1
    assert f"\u2026 (198,002 {LEFT_OUT}" in page


def test_a_huge_scope_description_is_cut_in_the_title() -> None:
    result = scan_result()
    result = result.model_copy(update={"scope": result.scope.model_copy(update={"description": "d" * 50_000})})
    page = html.render(result).decode()
    title = page[page.index("<title>") : page.index("</title>")]
    assert len(title) < visible.TEXT_LIMIT + 100 and f"(48,000 {LEFT_OUT}" in title


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        ("a" * 5000, True),
        ("a " * 5000, False),  # long, but no word is: it wraps like any prose
        ("\u200b" * 900, True),
        ("x\u202e" * 400, True),  # 400 hidden marks among letters: one row of them
        ("x\u202e" * 200, False),
        ("&<>" * 1000 + "z" * 3000, True),
        ("y" * 2001, True),
        ("y" * 2000, False),
    ],
    ids=["word", "spaced", "hidden", "bidi", "bidi-at-limit", "escaped", "one-over", "at-limit"],
)
def test_the_bound_cuts_once_and_says_how_much(text: str, cut: bool) -> None:
    shown = visible.marked(text)
    assert visible.bounded_html(shown) == shown  # a bounded value is left as it is by the page's pass
    assert max(map(len, re.findall(r"[^<>\s]+", shown)), default=0) <= visible.TEXT_LIMIT + 1
    assert (LEFT_OUT in shown) is cut
    assert "&am\u2026" not in shown and "&lt\u2026" not in shown  # never an entity cut in two


def test_an_ordinary_estate_is_written_as_before(tmp_path: Path) -> None:
    """The bound leaves every ordinary value alone: the demo's page holds no cut."""
    result = CliRunner().invoke(
        cli, ["scan", "--demo", "--out", str(tmp_path), "--format", "html", "--fail-on", "none"]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "mlwarden-report.html").read_text()
    assert LEFT_OUT not in page
    assert visible.bounded_html(page) == page


@pytest.fixture(scope="module")
def large() -> ScanResult:
    """Past `EVIDENCE_BUDGET` findings, with the huge name among them."""
    storage = arm_id("Microsoft.Storage/storageAccounts", HUGE)
    many = tuple(
        finding("MLW-ST-002", arm_id("Microsoft.Storage/storageAccounts", f"st{n:05d}"), Status.FAIL, "public")
        for n in range(html.EVIDENCE_BUDGET + 1)
    )
    return scan_result(FINDINGS + many + (finding("MLW-ST-002", storage, Status.FAIL, "public"),))
