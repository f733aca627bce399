"""What every renderer derives from a ScanResult: a stable order, and which findings get detail.

Reports stay usable at 100,000 resources by detailing only findings someone must act on
(fail, error, unknown) and counting the rest per check. Sorting here, once, keeps every
format deterministic: the same result always renders to the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from scanner.models import CheckMeta, Finding, ScanResult, Severity, Status

DETAILED = frozenset({Status.FAIL, Status.ERROR, Status.UNKNOWN})
"""Statuses shown finding by finding; pass and not_applicable are only counted."""

SEVERITY_ORDER: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: -s.rank))
"""Worst first, for tables and summaries."""

_NEGATED_RANK = {severity: -severity.rank for severity in Severity}
"""`-severity.rank` without a property call: this key runs once per finding a report sorts."""
_STATUS_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.UNKNOWN: 2, Status.PASS: 3, Status.NOT_APPLICABLE: 4}


@dataclass(frozen=True)
class CheckTally:
    """Per-check counts, so passing resources are summarised instead of listed."""

    check_id: str
    title: str
    severity: Severity
    counts: dict[str, int]
    """Status value to number of findings; every status present, zero when none."""


def finding_order(finding: Finding) -> tuple[int, int, str, str, str]:
    """Worst status, then worst severity first; ties broken by ids so the order never depends on input order."""
    return (
        _STATUS_ORDER[finding.status],
        _NEGATED_RANK[finding.severity],
        finding.check_id,
        finding.resource_id.lower(),
        finding.detail_key or "",
    )


def detailed(findings: Iterable[Finding]) -> list[Finding]:
    """Findings that need a reader's attention, worst first."""
    return sorted((f for f in findings if f.status in DETAILED), key=finding_order)


def open_failures(result: ScanResult) -> list[Finding]:
    """Failing findings that are neither waived nor baselined: what a reviewer must fix now."""
    return sorted((f for f in result.failed() if not f.baselined), key=finding_order)


def waived(result: ScanResult) -> list[Finding]:
    return sorted((f for f in result.findings if f.waived_by), key=finding_order)


def checks_by_id(result: ScanResult) -> dict[str, CheckMeta]:
    return {meta.id: meta for meta in result.checks}


def tallies(result: ScanResult) -> list[CheckTally]:
    """Status counts per check, in check id order, including checks that produced no finding."""
    counts: dict[str, Counter[str]] = {meta.id: Counter() for meta in result.checks}
    titles = {meta.id: (meta.title, meta.severity) for meta in result.checks}
    for finding in result.findings:
        counts.setdefault(finding.check_id, Counter())[finding.status.value] += 1
        titles.setdefault(finding.check_id, (finding.title, finding.severity))
    return [
        CheckTally(
            check_id=check_id,
            title=titles[check_id][0],
            severity=titles[check_id][1],
            counts={status.value: counts[check_id][status.value] for status in Status},
        )
        for check_id in sorted(counts)
    ]


def evidence_value(value: object) -> str:
    """One evidence value as text: JSON-like for structures, `(absent)` for a missing property."""
    if value is None:
        return "(absent)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
