"""Markdown for a GitHub step summary or pull-request comment: the gate verdict first.

The first line says `PASS` or `FAIL at --fail-on high: N findings`, counted with the same
predicate as the exit code (`scanner.models.fails_gate`), then what was waived or baselined,
then the executive counts per framework, then the detail. GitHub caps a step summary at
1 MiB and a pull-request comment at 65,536 characters, so every list is capped with an explicit
"N more" line and every value is clipped; what hostile values (long, full of characters that
escaping multiplies) would still push past the comment limit is cut at a line, with a note saying
so: the Markdown fits wherever it is posted.

Every value from the scan passes through `scanner.textsafe.printable` (control and bidi
characters) and is then Markdown- and HTML-escaped: a `|`, newline or tag in a resource name
must not break a table or inject markup. All of it is linear in the input's length.
"""

from __future__ import annotations

import re
from collections import Counter

from reports.digest import SEVERITY_ORDER, open_failures
from reports.names import display_name, framework_label, when
from scanner.models import Finding, FrameworkResult, ScanResult, Status, fails_gate
from scanner.textsafe import printable

COMMENT_LIMIT = 65_536
"""GitHub's limit on a comment's body, in characters; a step summary (1 MiB) is larger."""
TOP_FINDINGS = 25
MAX_LISTED = 20
"""Coverage gaps and expired waivers listed before "N more"."""
MAX_FRAMEWORKS = 50
CELL_LIMIT = 200
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")

CONTROL_COLUMNS = {
    "pass": "Met",
    "fail": "Failing",
    "attested": "Attested",
    "manual": "Manual",
    "not_assessed": "Not assessed",
}
"""Control statuses in the order the executive table shows them; any other status gets a column too."""


def _flat(text: object) -> str:
    """One line, whitespace runs collapsed, control and bidi characters neutralised, length bounded."""
    flat = printable(" ".join(str(text).split()))
    if len(flat) > CELL_LIMIT:
        flat = f"{flat[:CELL_LIMIT]}… ({len(flat) - CELL_LIMIT} more characters)"
    return flat


def cell(text: object) -> str:
    """Escape a value for a table cell or inline text: one line, Markdown and HTML neutralised."""
    flat = _flat(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", flat)


def _code(text: str) -> str:
    """Inline code cannot escape a backtick, so drop it; a table still needs its pipes escaped."""
    return _flat(text).replace("`", "'").replace("|", "\\|")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def render(result: ScanResult, *, allow_partial: bool = False) -> bytes:
    lines = [*_verdict(result, allow_partial), *_executive(result), *_scope(result), *_gaps(result)]
    lines += [*_severities(result), *_expired_waivers(result), *_top_failures(result)]
    return _fit(lines).encode(errors="replace")


def _fit(lines: list[str]) -> str:
    """The document, or as many of its lines as fit the comment limit with a closing note."""
    text = "\n".join(lines).rstrip() + "\n"
    if len(text) <= COMMENT_LIMIT:
        return text
    note = (
        f"**Truncated** to fit GitHub's {COMMENT_LIMIT:,}-character comment limit ({len(text):,} characters "
        "in all): the JSON report holds every finding, gap and waiver."
    )
    kept: list[str] = []
    size = len(note) + 3  # the blank line that ends a table or quote before it, and newlines
    for line in lines:
        if size + len(line) + 1 > COMMENT_LIMIT:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept).rstrip() + "\n\n" + note + "\n"


def _baselined(result: ScanResult, baselined: int) -> str:
    """`no baseline` when the scan was compared against none, so `0 baselined` cannot read as a
    baseline that accepted nothing; with one, also the accepted findings that no longer fail."""
    if result.baseline is None:
        return "no baseline"
    fixed = f" ({result.baseline.absent} in it no longer failing)" if result.baseline.absent else ""
    return f"{baselined} baselined{fixed}"


def _verdict(result: ScanResult, allow_partial: bool) -> list[str]:
    """The gate as the exit code has it: FAIL on exit 1 or 3 (an incomplete scan without
    --allow-partial), PASS on exit 0."""
    gate = result.fail_on
    gating = sum(1 for f in result.findings if fails_gate(f, gate))
    failing = [f for f in result.findings if f.status is Status.FAIL]
    waived = sum(1 for f in failing if f.waived_by)
    baselined = sum(1 for f in failing if f.baselined and not f.waived_by)
    below = len(failing) - gating - waived - baselined
    errors = result.status_counts()["error"]
    missing = [_plural(errors, "check error")] if errors else []
    missing += [_plural(len(result.gaps), "coverage gap")] if result.gaps else []
    incomplete = f"scan incomplete ({', '.join(missing)})" if missing and not allow_partial else ""
    if gating and gate is not None:
        title = f"FAIL at --fail-on {gate.value}: {_plural(gating, 'finding')}" + (
            f"; {incomplete}" if incomplete else ""
        )
    elif incomplete:
        title = f"FAIL: {incomplete}"
    elif gate is None:
        title = "PASS (no gate: --fail-on none)"
    else:
        title = f"PASS at --fail-on {gate.value}"
    parts = [f"**{gating}** failing the gate", f"{waived} waived", _baselined(result, baselined)]
    if gate is not None:
        parts.append(f"{below} failing below {gate.value}")
    lines = [f"## mlwarden: {title}", "", " · ".join(parts)]
    if result.gaps:
        lines += [
            "",
            f"**Scan incomplete:** {_plural(len(result.gaps), 'coverage gap')}: part of the scope was not "
            "assessed (mlwarden exits 3 unless --allow-partial).",
        ]
    if errors:
        lines += [
            "",
            f"**Scan incomplete:** {_plural(errors, 'check error')}: a check could not judge a resource "
            "(mlwarden exits 3 unless --allow-partial).",
        ]
    return [*lines, ""]


def _executive(result: ScanResult) -> list[str]:
    if not result.frameworks:
        return []
    counts = [
        (framework, Counter[str](control.status for control in framework.controls)) for framework in result.frameworks
    ]
    extra = sorted({status for _, c in counts for status in c} - set(CONTROL_COLUMNS))
    columns = [*CONTROL_COLUMNS, *extra]
    labels = [CONTROL_COLUMNS.get(status, status.replace("_", " ").capitalize()) for status in columns]
    lines = [
        "### Compliance (controls)",
        "",
        "| Framework | " + " | ".join(labels) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    for framework, c in counts[:MAX_FRAMEWORKS]:
        lines.append(f"| {_framework_name(framework)} | " + " | ".join(str(c[status]) for status in columns) + " |")
    if len(counts) > MAX_FRAMEWORKS:
        lines += ["", f"…and {len(counts) - MAX_FRAMEWORKS} more frameworks in the JSON report."]
    return [*lines, ""]


def _framework_name(framework: FrameworkResult) -> str:
    """As the HTML names it: `General Data Protection Regulation (EU) 2016/679`, not the name and a
    version that repeats its last word ("Regulation Regulation (EU) 2016/679")."""
    return cell(framework_label(framework.name, framework.version))


def _scope(result: ScanResult) -> list[str]:
    scope = result.scope
    collected = when(scope.collected_at)
    return [
        f"Scope: {cell(scope.description)} ({cell(scope.origin)}, {len(scope.subscriptions)} subscription(s), "
        f"{result.resource_count} resources) · collected {cell(collected)} · mlwarden {cell(result.tool_version)}",
        "",
    ]


def _gaps(result: ScanResult) -> list[str]:
    gaps = result.gaps
    if not gaps:
        return []
    lines = [f"> **Coverage gaps: {len(gaps)}.** Parts of the scope were not assessed:", ">"]
    lines += [f"> - **{cell(gap.source)}** `{_code(gap.scope)}`: {cell(gap.reason)}" for gap in gaps[:MAX_LISTED]]
    if len(gaps) > MAX_LISTED:
        lines.append(f"> - …and {len(gaps) - MAX_LISTED} more coverage gaps in the JSON report.")
    return [*lines, ""]


def _severities(result: ScanResult) -> list[str]:
    failing = open_failures(result)
    by_severity = Counter(f.severity for f in failing)
    gating = Counter(f.severity for f in failing if fails_gate(f, result.fail_on))
    status = result.status_counts()
    lines = ["### Failing findings", "", "| Severity | Failing | Failing the gate |", "| --- | ---: | ---: |"]
    lines += [f"| {s.value} | {by_severity[s]} | {gating[s]} |" for s in SEVERITY_ORDER]
    lines += [
        "",
        f"Also: {status['unknown']} unknown (not assessed), {status['error']} check error(s), "
        f"{status['pass']} passing, {status['not_applicable']} not applicable.",
        "",
    ]
    return lines


def _expired_waivers(result: ScanResult) -> list[str]:
    expired = [use for use in result.waivers if use.expired]
    if not expired:
        return []
    lines = [f"> **Expired waivers: {len(expired)}.** They no longer waive anything:", ">"]
    for use in expired[:MAX_LISTED]:
        lines.append(
            f"> - {cell(use.check_id)} on `{_code(use.resource)}` (owner {cell(use.owner)}) "
            f"expired {use.expires.isoformat()}"
        )
    if len(expired) > MAX_LISTED:
        lines.append(f"> - …and {len(expired) - MAX_LISTED} more in the JSON report.")
    return [*lines, ""]


def _changed(finding: Finding) -> str:
    """Who changed it, when attributed: the estate's own words, neutralised like every other cell."""
    return f" ({cell(finding.change.summary())})" if finding.change else ""


def _top_failures(result: ScanResult) -> list[str]:
    failing = open_failures(result)
    if not failing:
        return []
    lines = [
        "### Top failing findings",
        "",
        "| Severity | Gate | Check | Resource | Finding |",
        "| --- | --- | --- | --- | --- |",
    ]
    for finding in failing[:TOP_FINDINGS]:
        gate = "fails" if fails_gate(finding, result.fail_on) else "below" if result.fail_on else "no gate"
        lines.append(
            f"| {finding.severity.value} | {gate} | {cell(finding.check_id)} | {cell(display_name(finding))} "
            f"| {cell(finding.message)}{_changed(finding)} |"
        )
    if len(failing) > TOP_FINDINGS:
        lines += ["", f"…and {len(failing) - TOP_FINDINGS} more in the JSON/SARIF report."]
    return [*lines, ""]
