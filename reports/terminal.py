"""The few lines printed after a scan: is it bad, where, and was anything not assessed.

Colour only when writing to a terminal that wants it (a TTY, no NO_COLOR): logs and CI
captures must stay plain text.
"""

from __future__ import annotations

import heapq
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from reports.digest import SEVERITY_ORDER, finding_order
from reports.names import display_name
from scanner.models import Finding, ScanResult, Severity
from scanner.textsafe import printable as _plain

TOP_FAILURES = 10

_COLOURS = {
    Severity.CRITICAL: "\033[1;31m",
    Severity.HIGH: "\033[31m",
    Severity.MEDIUM: "\033[33m",
    Severity.LOW: "\033[36m",
    Severity.INFO: "\033[2m",
}
_RESET = "\033[0m"
# Estate text (names, titles, gap reasons) goes through scanner.textsafe.printable (`_plain`):
# it must not move the cursor, recolour the terminal or forge a line. Only our own colour codes
# reach the terminal raw.


def wants_colour(stream: TextIO | None = None) -> bool:
    """True for an interactive terminal, unless NO_COLOR is set (https://no-color.org)."""
    stream = stream if stream is not None else sys.stdout
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def summary(result: ScanResult, *, colour: bool | None = None, reports: Sequence[Path] = ()) -> str:
    """A concise multi-line summary; `colour=None` decides from stdout. `reports` are the report
    files this run wrote: the summary points to them, and only to them, for the full list."""
    use_colour = wants_colour() if colour is None else colour

    def paint(severity: Severity, text: str) -> str:
        return f"{_COLOURS[severity]}{text}{_RESET}" if use_colour else text

    scope = result.scope
    by_severity, failing_count, baselined = _open_failures(result)
    status = result.status_counts()
    lines = [
        f"mlwarden {result.tool_version}: {scope.origin} scan of {len(scope.subscriptions)} subscription(s), "
        f"{result.resource_count} resources, {len(result.checks)} checks",
    ]
    breakdown = ", ".join(paint(s, f"{len(found)} {s.value}") for s, found in by_severity.items() if found)
    waived = result.waived_count()
    lines.append(
        f"Failing: {failing_count}"
        + (f" ({breakdown})" if breakdown else "")
        + f" · unknown {status['unknown']} · errors {status['error']} · waived {waived}"
        + f" · baselined {baselined} · passing {status['pass']}"
    )
    if result.postures:
        failing_postures = sum(1 for p in result.postures if any(v.status == "fail" for v in p.pillars))
        lines.append(f"Deployments: {len(result.postures)}, {failing_postures} with a failing pillar")
    for framework in result.frameworks:
        c = framework.counts()
        attested = f"{c['attested']} attested, " if c.get("attested") else ""
        lines.append(
            f"{_plain(framework.name)}: {c['pass']} pass, {c['fail']} fail, {attested}{c['manual']} manual, "
            f"{c['not_assessed']} not assessed"
        )
    if result.gaps:
        lines.append(f"Coverage gaps: {len(result.gaps)} (not assessed, not passed)")
        lines += [_plain(f"  {gap.source} {gap.scope}: {gap.reason}") for gap in result.gaps[:5]]
        if len(result.gaps) > 5:
            lines.append(f"  ...and {len(result.gaps) - 5} more")
    if failing_count:
        lines.append("Top failures:")
        for finding in _worst(by_severity, TOP_FAILURES):
            label = paint(finding.severity, f"{finding.severity.value.upper():<8}")
            # The unambiguous name the reports use (`workspace/endpoint/deployment`, `vault/key`):
            # a bare `main` could be any deployment.
            where = f"{_plain(finding.check_id):<12} {_plain(display_name(finding))}"
            lines.append(f"  {label} {where}: {_plain(finding.message)}")
            if finding.change:
                lines.append(f"           {_plain(finding.change.summary())}")
        if failing_count > TOP_FAILURES:
            lines.append(f"  ...and {failing_count - TOP_FAILURES} more ({_where_all(reports)})")
    if result.fail_on is not None:
        gate = sum(len(found) for severity, found in by_severity.items() if severity.rank >= result.fail_on.rank)
        verdict = "FAIL" if gate else "OK"
        lines.append(f"Result: {verdict} at --fail-on {result.fail_on.value} ({gate} finding(s) at or above)")
    return "\n".join(lines) + "\n"


def _open_failures(result: ScanResult) -> tuple[dict[Severity, list[Finding]], int, int]:
    """The open failures (`reports.digest.open_failures`) by severity, worst first, unsorted
    within one; how many; and how many failures the baseline accepted. Sorting them all to print
    ten cost a second at 100,000 resources."""
    by_severity: dict[Severity, list[Finding]] = {severity: [] for severity in SEVERITY_ORDER}
    baselined = 0
    for finding in result.failed():
        if finding.baselined:
            baselined += 1
        else:
            by_severity[finding.severity].append(finding)
    return by_severity, sum(map(len, by_severity.values())), baselined


def _worst(by_severity: dict[Severity, list[Finding]], count: int) -> list[Finding]:
    """The first `count` open failures in `finding_order`, sorting only what can be among them."""
    worst: list[Finding] = []
    for found in by_severity.values():
        if len(worst) >= count:
            break
        worst += heapq.nsmallest(count - len(worst), found, key=finding_order)
    return worst


_LISTS_ALL = (".html", ".json", ".csv", ".xml", ".sarif")
"""Reports that list every failing finding, best first (SARIF last: past GitHub's limits it leaves the
least severe out, and says so). The Markdown summary lists 25 and the summary PDF none."""


def _where_all(reports: Sequence[Path]) -> str:
    """Where the full list is: a report written by this run that holds it, or how to get one."""
    listing = [
        (_LISTS_ALL.index(suffix), path)
        for path in reports
        if (suffix := Path(path.name.removesuffix(".gz")).suffix) in _LISTS_ALL
        and not path.name.startswith("mlwarden-compliance")
    ]
    if listing:
        return f"see {_plain(min(listing)[1])}"
    if reports:
        return "the reports written hold the first ones only: --format json, html or csv lists every finding"
    return "write every finding to reports with --out DIR"
