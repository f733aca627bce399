"""Terminal summary: short, honest about gaps, coloured only for a real terminal."""

from __future__ import annotations

import io

import pytest

from reports import terminal
from scanner.models import ScanResult, Severity, Status
from tests.reports.conftest import FINDINGS, finding, scan_result


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_summary_has_counts_frameworks_gaps_and_verdict(result: ScanResult) -> None:
    text = terminal.summary(result, colour=False)
    assert "\033[" not in text
    assert "Failing: 5 (3 high, 1 medium, 1 low)" in text
    assert "waived 1" in text and "baselined 1" in text and "unknown 2" in text and "passing 3" in text
    assert "HIPAA Security Rule: 1 pass, 2 fail, 1 manual, 1 not assessed" in text
    assert "Coverage gaps: 1" in text
    assert "Result: FAIL at --fail-on high (3 finding(s) at or above)" in text
    assert len(text.splitlines()) < 25


def test_colour_marks_severities(result: ScanResult) -> None:
    assert "\033[31m" in terminal.summary(result, colour=True)


def test_colour_follows_the_stream_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert terminal.wants_colour(_Tty()) is True
    assert terminal.wants_colour(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert terminal.wants_colour(_Tty()) is False


def test_escape_sequences_in_data_cannot_reach_the_terminal() -> None:
    sneaky = finding(
        "MLW-WS-001",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w",
        Status.FAIL,
        "x",
        resource_name="w\033[2J\033]0;pwned\a",
    )
    text = terminal.summary(scan_result((*FINDINGS, sneaky)), colour=False)
    assert "\033" not in text and "\a" not in text


def test_passing_gate_says_ok(result: ScanResult) -> None:
    relaxed = result.model_copy(update={"fail_on": Severity.CRITICAL})
    assert "Result: OK at --fail-on critical" in terminal.summary(relaxed, colour=False)


def test_top_failures_name_a_child_resource_by_its_path() -> None:
    """A deployment is `workspace/endpoint/deployment`, as in every report: a bare `main` could be any."""
    from click.testing import CliRunner

    from scanner.cli import cli

    text = CliRunner().invoke(cli, ["scan", "--demo", "--fail-on", "none", "--check", "MLW-MLDEP-01"]).stdout
    lines = [line for line in text.splitlines() if line.lstrip().startswith(("CRITICAL", "HIGH", "MEDIUM", "LOW"))]
    assert lines and all(" main:" not in line for line in lines)
    assert any("mlw-lh-research/ep-sepsis-research/main:" in line for line in lines), text


@pytest.mark.parametrize(
    ("written", "named"),
    [
        (["mlwarden-report.md", "mlwarden-report.html"], "mlwarden-report.html"),
        (["mlwarden-report.md", "mlwarden-report.sarif", "mlwarden-report.csv"], "mlwarden-report.csv"),
        (["mlwarden-report.md", "mlwarden-report.xml.gz"], "mlwarden-report.xml.gz"),
        (["mlwarden-report.md", "mlwarden-report.sarif"], "mlwarden-report.sarif"),
        (["mlwarden-report.md", "mlwarden-report.pdf"], None),
    ],
)
def test_the_rest_of_the_failures_are_pointed_at_a_report_that_lists_them(
    written: list[str], named: str | None
) -> None:
    """`...and 27825 more (see out/mlwarden-report.md)`: the Markdown summary lists 25 of them."""
    from pathlib import Path

    many = tuple(
        finding("MLW-WS-001", f"/subscriptions/s/resourceGroups/rg/providers/x/workspaces/w{n}", Status.FAIL, "public")
        for n in range(terminal.TOP_FAILURES + 3)
    )
    text = terminal.summary(scan_result(many), colour=False, reports=[Path("out") / name for name in written])
    (line,) = [line for line in text.splitlines() if "more (" in line]
    if named is None:
        assert "--format json, html or csv lists every finding" in line, line
    else:
        assert line.endswith(f"(see {Path('out') / named})"), line
