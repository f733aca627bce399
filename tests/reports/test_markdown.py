"""Markdown PR comment: counts, top failures, frameworks, gaps; data can never break the tables."""

from __future__ import annotations

import re

from reports import markdown
from scanner.models import ScanResult, Status
from tests.reports.conftest import FINDINGS, HOSTILE_NAME, arm_id, finding, scan_result

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _text(result: ScanResult) -> str:
    return markdown.render(result).decode()


def test_cell_escapes_pipes_newlines_html_and_emphasis() -> None:
    escaped = markdown.cell("a | b\nc *d* <img src=x onerror=alert(1)> [x](javascript:1)")
    assert "\n" not in escaped
    assert "\\|" in escaped and _UNESCAPED_PIPE.search(escaped) is None
    assert "<img" not in escaped and "&lt;img" in escaped
    assert "\\*d\\*" in escaped
    assert "\\[x\\]" in escaped


def test_every_table_row_keeps_its_column_count(result: ScanResult) -> None:
    findings_rows = [line for line in _text(result).splitlines() if line.startswith("| ") and "| MLW-" in line]
    assert len(findings_rows) == 5
    for row in findings_rows:
        assert len(_UNESCAPED_PIPE.findall(row)) == 5, row


def test_summary_counts_gaps_and_frameworks(result: ScanResult) -> None:
    text = _text(result)
    assert "5 failing finding(s)" in text
    assert "| high | 3 |" in text and "| critical | 0 |" in text  # the critical one is waived
    assert "Coverage gaps: 1" in text and "403 AuthorizationFailed" in text
    assert "| HIPAA Security Rule 45 CFR 164 Subpart C | 1 | 2 | 1 | 1 |" in text
    assert "| GDPR Regulation (EU) 2016/679 | 0 | 2 | 2 | 0 |" in text


def test_expired_waivers_are_called_out(result: ScanResult) -> None:
    text = _text(result)
    assert "Expired waivers: 1" in text
    assert "MLW-WS-001 on `*/workspaces/mlw-*` (owner ml-platform team)" in text
    assert "expired 2026-10-01" in text
    assert "stclaimsml` (owner" not in text


def test_hostile_values_are_neutralised(result: ScanResult) -> None:
    text = _text(result)
    assert HOSTILE_NAME not in text
    assert "allows \\| public network access" in text


def test_table_is_capped_for_a_pr_comment() -> None:
    many = tuple(
        finding("MLW-WS-001", arm_id("Microsoft.MachineLearningServices/workspaces", f"w{i}"), Status.FAIL, "public")
        for i in range(200)
    )
    text = _text(scan_result(FINDINGS + many))
    rows = [line for line in text.splitlines() if "| MLW-" in line]
    assert len(rows) == markdown.TOP_FINDINGS
    assert "…and 180 more" in text
    assert len(text) < 65_536


def test_same_input_same_bytes(result: ScanResult) -> None:
    assert markdown.render(result) == markdown.render(result.model_copy(update={"findings": result.findings[::-1]}))
