"""Findings indexed once for every stage after the checks.

At 100,000 resources the findings are 340,000 objects spread over gigabytes: reading one costs a
cache miss or two, more than the work done with it. Control evaluation needs each check's tally and
deployment posture each resource's findings; the engine builds both in one pass, and either stage
called alone indexes only its own part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from scanner.models import Finding, Status

_FAIL, _PASS, _UNKNOWN, _ERROR = Status.FAIL, Status.PASS, Status.UNKNOWN, Status.ERROR


@dataclass(slots=True)
class CheckTally:
    """One check's findings reduced: fingerprints of unwaived failures (in finding order, the very strings
    the findings hold), evaluated resources (a waived failure is accepted risk, so it counts as evaluated)
    and resources it could not judge."""

    failing: list[str] = field(default_factory=list)
    passing: int = 0
    unknown: int = 0


@dataclass(frozen=True, slots=True)
class FindingIndex:
    by_check: dict[str, CheckTally] | None
    by_resource: dict[str, list[Finding]] | None
    """Lower-case resource id -> its findings, in finding order."""

    def checks(self) -> dict[str, CheckTally]:
        if self.by_check is None:
            raise ValueError("the findings were indexed without check tallies")
        return self.by_check

    def resources(self) -> dict[str, list[Finding]]:
        if self.by_resource is None:
            raise ValueError("the findings were indexed without resources")
        return self.by_resource


def index_findings(findings: Iterable[Finding], *, checks: bool = True, resources: bool = True) -> FindingIndex:
    """One pass. Statuses compare by value: a finding built without validation may hold the plain string."""
    by_check: dict[str, CheckTally] | None = {} if checks else None
    by_resource: dict[str, list[Finding]] | None = {} if resources else None
    lowered: dict[str, str] = {}  # findings of one resource share its id string: lower-case it once
    for finding in findings:
        if by_check is not None:
            tally = by_check.get(finding.check_id)
            if tally is None:
                tally = by_check[finding.check_id] = CheckTally()
            status = finding.status
            if status == _FAIL:
                if finding.waived_by:
                    tally.passing += 1
                else:
                    tally.failing.append(finding.fingerprint)
            elif status == _PASS:
                tally.passing += 1
            elif status in (_UNKNOWN, _ERROR):
                tally.unknown += 1
        if by_resource is not None:
            resource_id = finding.resource_id
            key = lowered.get(resource_id)
            if key is None:
                key = lowered[resource_id] = resource_id.lower()
            found = by_resource.get(key)
            if found is None:
                by_resource[key] = [finding]
            else:
                found.append(finding)
    return FindingIndex(by_check, by_resource)
