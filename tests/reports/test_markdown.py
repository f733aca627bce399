"""Markdown step summary: the gate verdict first, executive counts, capped detail; data can never break it."""

from __future__ import annotations

import re

import pytest

from reports import markdown
from scanner.models import (
    ControlResult,
    FrameworkResult,
    Gap,
    ScanResult,
    Severity,
    SourceCoverage,
    Status,
    fails_gate,
)
from tests.reports.conftest import FINDINGS, HOSTILE_NAME, arm_id, finding, scan_result

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
STEP_SUMMARY_LIMIT = 1024 * 1024


def _text(result: ScanResult, allow_partial: bool = False) -> str:
    return markdown.render(result, allow_partial=allow_partial).decode()


def _head(text: str, count: int = 2) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][:count]


def test_cell_escapes_pipes_newlines_html_and_emphasis() -> None:
    escaped = markdown.cell("a | b\nc *d* <img src=x onerror=alert(1)> [x](javascript:1)")
    assert "\n" not in escaped
    assert "\\|" in escaped and _UNESCAPED_PIPE.search(escaped) is None
    assert "<img" not in escaped and "&lt;img" in escaped
    assert "\\*d\\*" in escaped
    assert "\\[x\\]" in escaped


@pytest.mark.parametrize(
    "raw",
    ["\x1b[31mred", "bell\x07", "nul\x00", "cr\rforged line", "\u202eevil\u202c", "\u2066iso\u2069", "zw\u200bsp"],
)
def test_cell_neutralises_control_and_bidi_characters(raw: str) -> None:
    escaped = markdown.cell(raw)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", escaped), repr(escaped)


def test_first_lines_hold_fail_verdict_with_gate_count_waived_and_baselined(result: ScanResult) -> None:
    verdict, counts = _head(_text(result))
    gating = sum(1 for f in result.findings if fails_gate(f, Severity.HIGH))
    assert gating == 3
    assert "FAIL at --fail-on high: 3 findings" in verdict
    assert "PASS" not in verdict
    assert "**3** failing the gate" in counts and "1 waived" in counts and "1 baselined" in counts
    assert "2 failing below high" in counts


def test_pass_when_nothing_reaches_the_gate(result: ScanResult) -> None:
    """With --allow-partial: the result's check error and coverage gap do not fail the run."""
    critical_gate = result.model_copy(update={"fail_on": Severity.CRITICAL})  # the one critical is waived
    (verdict,) = _head(_text(critical_gate, allow_partial=True), 1)
    assert "PASS at --fail-on critical" in verdict and "FAIL" not in verdict
    no_gate = result.model_copy(update={"fail_on": None})
    assert "PASS (no gate: --fail-on none)" in _head(_text(no_gate, allow_partial=True), 1)[0]


def test_an_incomplete_scan_fails_as_exit_3_does(result: ScanResult) -> None:
    """A check error or a coverage gap is exit 3 without --allow-partial: never PASS."""
    for gate in (Severity.CRITICAL, None):
        (verdict,) = _head(_text(result.model_copy(update={"fail_on": gate})), 1)
        assert verdict == "## mlwarden: FAIL: scan incomplete (1 check error, 1 coverage gap)"
    (verdict,) = _head(_text(result), 1)
    assert verdict == "## mlwarden: FAIL at --fail-on high: 3 findings; scan incomplete (1 check error, 1 coverage gap)"
    assert "**Scan incomplete:** 1 check error" in _text(result)


def test_verdict_agrees_with_the_gate_at_every_threshold(result: ScanResult) -> None:
    for severity in Severity:
        gating = sum(1 for f in result.findings if fails_gate(f, severity))
        (verdict,) = _head(_text(result.model_copy(update={"fail_on": severity}), allow_partial=True), 1)
        if gating:
            assert f"FAIL at --fail-on {severity.value}: {gating} finding" in verdict
        else:
            assert verdict.endswith(f"PASS at --fail-on {severity.value}")


def test_executive_counts_per_framework_right_after_the_verdict(result: ScanResult) -> None:
    text = _text(result)
    assert text.index("Compliance") < text.index("Scope:") < text.index("Top failing findings")
    assert "| Framework | Met | Failing | Attested | Manual | Not assessed |" in text
    assert "| HIPAA Security Rule, 45 CFR 164 Subpart C | 1 | 2 | 0 | 1 | 1 |" in text
    assert "| GDPR, Regulation (EU) 2016/679 | 0 | 2 | 0 | 2 | 0 |" in text  # as the HTML labels it


def test_any_control_status_gets_counted(result: ScanResult) -> None:
    """A status added later (e.g. `attested` from attestations, or one we do not know yet) is counted, not dropped."""
    controls = (
        ControlResult.model_construct(framework_id="x", control_id="1", title="a", status="attested"),
        ControlResult.model_construct(framework_id="x", control_id="2", title="b", status="attested"),
        ControlResult.model_construct(framework_id="x", control_id="3", title="c", status="partially_met"),
        ControlResult(framework_id="x", control_id="4", title="d", status="pass"),
    )
    framework = FrameworkResult(id="x", name="Extra", version="1", controls=controls)
    text = _text(result.model_copy(update={"frameworks": (framework,)}))
    assert "| Framework | Met | Failing | Attested | Manual | Not assessed | Partially met |" in text
    assert "| Extra, 1 | 1 | 0 | 2 | 0 | 0 | 1 |" in text


def test_summary_counts_gaps_and_severities(result: ScanResult) -> None:
    text = _text(result)
    assert "Scan incomplete:** 1 coverage gap" in text
    assert "| high | 3 | 3 |" in text and "| critical | 0 | 0 |" in text  # the critical one is waived
    assert "| medium | 1 | 0 |" in text
    assert "Coverage gaps: 1" in text and "403 AuthorizationFailed" in text


def test_every_table_row_keeps_its_column_count(result: ScanResult) -> None:
    findings_rows = [line for line in _text(result).splitlines() if line.startswith("| ") and "| MLW-" in line]
    assert len(findings_rows) == 5
    for row in findings_rows:
        assert len(_UNESCAPED_PIPE.findall(row)) == 6, row


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


def test_hostile_resource_name_cannot_forge_lines_or_reorder_text() -> None:
    name = "w1\r\n## PASS\x1b[2K\u202egnissap\u202c\x00"
    hostile = finding(
        "MLW-WS-001",
        arm_id("Microsoft.MachineLearningServices/workspaces", name),  # the name shown is the id's
        Status.FAIL,
        "public\x07",
        resource_name=name,
    )
    text = _text(scan_result((hostile,)))
    assert "\n## PASS" not in text and "\r" not in text
    assert not re.search("[\x00-\x08\x0b-\x1f\u202a-\u202e]", text)
    assert "FAIL at --fail-on high: 1 finding" in _head(text, 1)[0]


def test_huge_whitespace_runs_render_in_linear_time() -> None:
    """20,000 spaces in a name took 26x the normal time (a backtracking regex); 2 MiB of them must still be quick.

    Not a timed test: a quadratic renderer would take hours on this input, so the suite's timeout catches it.
    """
    spaced = "w" + " " * 2_000_000 + "x\n" + "\t" * 500_000 + "y"
    hostile = finding(
        "MLW-WS-001",
        arm_id("Microsoft.MachineLearningServices/workspaces", "w1"),
        Status.FAIL,
        spaced,
        resource_name=spaced,
    )
    text = _text(scan_result((hostile,)))
    assert "w x" in text and len(text) < 20_000


def test_table_is_capped_with_an_explicit_more_line() -> None:
    many = tuple(
        finding("MLW-WS-001", arm_id("Microsoft.MachineLearningServices/workspaces", f"w{i}"), Status.FAIL, "public")
        for i in range(200)
    )
    text = _text(scan_result(FINDINGS + many))
    rows = [line for line in text.splitlines() if "| MLW-" in line]
    assert len(rows) == markdown.TOP_FINDINGS
    assert "…and 180 more in the JSON/SARIF report." in text
    assert len(text) < 65_536


def test_step_summary_stays_under_1_mib_at_100k_resources(estate_100k: ScanResult) -> None:
    document = markdown.render(estate_100k)
    text = document.decode()
    gating = sum(1 for f in estate_100k.findings if fails_gate(f, estate_100k.fail_on))
    assert gating > 25_000
    assert f"FAIL at --fail-on high: {gating} findings" in _head(text, 1)[0]
    waived = sum(1 for f in estate_100k.findings if f.status is Status.FAIL and f.waived_by)
    assert f"{waived} waived" in _head(text)[1]
    failing = sum(1 for f in estate_100k.failed() if not f.baselined)
    assert f"…and {failing - markdown.TOP_FINDINGS} more in the JSON/SARIF report." in text
    assert len(document) < STEP_SUMMARY_LIMIT
    print(f"\nmarkdown at 100k resources: {len(document):,} bytes ({len(document) / STEP_SUMMARY_LIMIT:.2%} of 1 MiB)")


def test_hostile_estate_stays_under_the_limit() -> None:
    """Every list is capped and every value clipped, so even megabyte names cannot reach 1 MiB."""
    huge = "n" * 1_000_000
    many = tuple(
        finding(
            "MLW-WS-001",
            arm_id("Microsoft.MachineLearningServices/workspaces", f"w{i}"),
            Status.FAIL,
            huge,
            resource_name=huge,
        )
        for i in range(40)
    )
    document = markdown.render(scan_result(many))
    assert len(document.decode()) <= markdown.COMMENT_LIMIT


def test_values_that_escaping_multiplies_are_cut_to_the_comment_limit_with_a_note() -> None:
    """Clipped values of `&` grow fivefold when escaped (`&amp;`): 25 such rows and 20 gaps
    made a 73,546-character document, which GitHub refuses as a pull-request comment (65,536)."""
    loud = "&" * 600
    many = tuple(
        finding(
            "MLW-WS-001",
            arm_id("Microsoft.MachineLearningServices/workspaces", f"w{i}"),
            Status.FAIL,
            loud,
            resource_name=f"{i}{loud}",
        )
        for i in range(40)
    )
    gaps = tuple(Gap(source=loud, scope=f"/subscriptions/{i:08d}/{loud}", reason=loud) for i in range(40))
    hostile = scan_result(many).model_copy(
        update={"sources": (SourceCoverage(name="resources", collected=True, gaps=gaps),)}
    )
    text = markdown.render(hostile).decode()
    assert len(text) <= markdown.COMMENT_LIMIT
    assert text.startswith("## mlwarden: FAIL at --fail-on high: 40 findings; scan incomplete (40 coverage gaps)")
    last = text.rstrip().splitlines()[-1]
    assert last.startswith("**Truncated** to fit GitHub's 65,536-character comment limit (")
    assert "the JSON report holds every finding" in last
    assert text.rstrip().splitlines()[-2] == ""  # a blank line: the note is not read as a table row


def test_an_ordinary_scan_is_not_truncated(result: ScanResult) -> None:
    assert "Truncated" not in _text(result)


def test_coverage_gaps_and_expired_waivers_are_capped(result: ScanResult) -> None:
    gaps = tuple(Gap(source="resources", scope=f"/subscriptions/{i:08d}", reason="403") for i in range(1_000))
    sources = (SourceCoverage(name="resources", collected=True, gaps=gaps),)
    waivers = tuple(result.waivers[1].model_copy(update={"resource": f"*/w{i}"}) for i in range(100))
    text = _text(result.model_copy(update={"sources": sources, "waivers": waivers}))
    assert "Scan incomplete:** 1000 coverage gaps" in text
    assert text.count("`/subscriptions/") == markdown.MAX_LISTED
    assert "…and 980 more coverage gaps in the JSON report." in text
    assert "Expired waivers: 100" in text and "…and 80 more in the JSON report." in text


def test_same_input_same_bytes(result: ScanResult) -> None:
    assert markdown.render(result) == markdown.render(result.model_copy(update={"findings": result.findings[::-1]}))


def test_names_labels_and_times_are_those_of_the_html(result: ScanResult) -> None:
    """The step summary said `main` for `mlw-lh-research/ep-sepsis-research/main`, `General Data
    Protection Regulation Regulation (EU) 2016/679` and an ISO time where the HTML says UTC."""
    deployment = (
        f"{arm_id('Microsoft.MachineLearningServices/workspaces', 'mlw-a')}/onlineEndpoints/ep/deployments/main"
    )
    frameworks = (
        FrameworkResult(
            id="gdpr", name="General Data Protection Regulation", version="Regulation (EU) 2016/679", controls=()
        ),
    )
    failing = finding("MLW-EP-001", deployment, Status.FAIL, "public", resource_name="main")
    text = _text(scan_result((failing,)).model_copy(update={"frameworks": frameworks}))
    assert "| mlw-a/ep/main |" in text and "| main |" not in text
    assert "| General Data Protection Regulation (EU) 2016/679 |" in text
    assert re.search(r"collected (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC|unknown) ·", text), text


def test_without_a_gate_no_finding_is_called_below_it(result: ScanResult) -> None:
    text = _text(result.model_copy(update={"fail_on": None}))
    rows = [line for line in text.splitlines() if line.startswith("| ") and "| MLW-" in line]
    assert rows and all("| no gate |" in row for row in rows), rows
