"""Markdown: a summary small enough for a pull-request comment.

GitHub caps a comment at 65,536 characters, so the failing-findings table is cut at
`TOP_FINDINGS` rows and points to the full reports. Every value from the scan is escaped:
resource names and messages are data, and a `|`, a newline or an HTML tag in them must not
break the table or inject markup into the comment.
"""

from __future__ import annotations

import re

from reports.digest import SEVERITY_ORDER, open_failures, waived
from scanner.models import ScanResult

TOP_FINDINGS = 25
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_NEWLINES = re.compile(r"\s*[\r\n]+\s*")


def cell(text: object) -> str:
    """Escape a value for a table cell or inline text: one line, Markdown and HTML neutralised."""
    flat = _NEWLINES.sub(" ", str(text))
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", flat)


def render(result: ScanResult) -> bytes:
    lines: list[str] = []
    scope = result.scope
    failing = open_failures(result)
    lines.append(f"## mlwarden: {len(failing)} failing finding(s)")
    lines.append("")
    subscriptions = len(scope.subscriptions)
    collected = scope.collected_at.isoformat() if scope.collected_at else "unknown"
    lines.append(
        f"Scope: {cell(scope.description)} ({cell(scope.origin)}, {subscriptions} subscription(s), "
        f"{result.resource_count} resources) · collected {cell(collected)} · mlwarden {cell(result.tool_version)}"
    )
    lines.append("")
    if result.gaps:
        lines.append(f"> **Coverage gaps: {len(result.gaps)}.** Parts of the scope were not assessed:")
        lines.append(">")
        for gap in result.gaps:
            lines.append(f"> - **{cell(gap.source)}** `{_code(gap.scope)}`: {cell(gap.reason)}")
        lines.append("")
    counts = _open_severity_counts(result)
    lines.append("| Severity | Failing |")
    lines.append("| --- | ---: |")
    lines += [f"| {severity.value} | {counts[severity.value]} |" for severity in SEVERITY_ORDER]
    status = result.status_counts()
    lines.append("")
    lines.append(
        f"Also: {status['unknown']} unknown (not assessed), {status['error']} check error(s), "
        f"{len(waived(result))} waived, {sum(f.baselined for f in result.failed())} baselined, "
        f"{status['pass']} passing."
    )
    lines.append("")
    expired = [use for use in result.waivers if use.expired]
    if expired:
        lines.append(f"> **Expired waivers: {len(expired)}.** They no longer waive anything:")
        lines.append(">")
        for use in expired:
            lines.append(
                f"> - {cell(use.check_id)} on `{_code(use.resource)}` (owner {cell(use.owner)}) "
                f"expired {use.expires.isoformat()}"
            )
        lines.append("")
    if failing:
        lines.append("### Top failing findings")
        lines.append("")
        lines.append("| Severity | Check | Resource | Finding |")
        lines.append("| --- | --- | --- | --- |")
        for finding in failing[:TOP_FINDINGS]:
            lines.append(
                f"| {finding.severity.value} | {cell(finding.check_id)} | {cell(finding.resource_name)} "
                f"| {cell(finding.title)}: {cell(finding.message)} |"
            )
        if len(failing) > TOP_FINDINGS:
            lines.append("")
            lines.append(f"…and {len(failing) - TOP_FINDINGS} more in the full report.")
        lines.append("")
    if result.frameworks:
        lines.append("### Frameworks")
        lines.append("")
        lines.append("| Framework | Pass | Fail | Manual | Not assessed |")
        lines.append("| --- | ---: | ---: | ---: | ---: |")
        for framework in result.frameworks:
            c = framework.counts()
            name = f"{cell(framework.name)} {cell(framework.version)}".strip()
            lines.append(f"| {name} | {c['pass']} | {c['fail']} | {c['manual']} | {c['not_assessed']} |")
        lines.append("")
    return ("\n".join(lines).rstrip() + "\n").encode()


def _open_severity_counts(result: ScanResult) -> dict[str, int]:
    counts = {severity.value: 0 for severity in SEVERITY_ORDER}
    for finding in open_failures(result):
        counts[finding.severity.value] += 1
    return counts


def _code(text: str) -> str:
    """Inline code cannot escape a backtick, so drop it; also keep the span on one line."""
    return _NEWLINES.sub(" ", text).replace("`", "'").replace("|", "\\|")
