"""Findings indexed once for every stage after the checks.

At 100,000 resources the findings are 340,000 objects spread over gigabytes: reading one costs a
cache miss or two, more than the work done with it. Control evaluation needs each check's tally and
deployment posture each resource's findings; the engine builds both in one pass, and either stage
called alone indexes only its own part. A sharded run indexes its findings piece by piece as it
makes them (`Piece`), while they are still in cache, and merges the pieces in the final order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from scanner.models import Finding, Status, Tally, TallyBuilder

_FAIL, _PASS, _UNKNOWN, _ERROR = Status.FAIL, Status.PASS, Status.UNKNOWN, Status.ERROR
POSTURE_PILLARS = ("encryption", "private-network", "identity", "secrets")
_PILLAR_INDEX = {pillar: index for index, pillar in enumerate(POSTURE_PILLARS)}


@dataclass(slots=True)
class CheckTally:
    """One check's findings reduced: fingerprints of unwaived failures (in finding order, the very strings
    the findings hold), evaluated resources (a waived failure is accepted risk, so it counts as evaluated)
    and resources it could not judge."""

    failing: list[str] = field(default_factory=list)
    passing: int = 0
    unknown: int = 0


@dataclass(slots=True)
class ResourceFindings:
    """One resource's findings as deployment posture reads them, sorted while each finding is at hand:
    per posture pillar, how many findings about the whole resource passed or could not judge, and
    the findings still to be read one by one (failures, and findings about one item such as a key in
    a vault, which count only for a dependency on that item), in finding order. Findings on no
    posture pillar (monitoring) and not-applicable ones are left out: posture never counts them."""

    passed: list[int] = field(default_factory=lambda: [0] * len(POSTURE_PILLARS))
    unknown: list[int] = field(default_factory=lambda: [0] * len(POSTURE_PILLARS))
    itemised: list[Finding] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FindingIndex:
    by_check: dict[str, CheckTally] | None
    by_resource: dict[str, ResourceFindings] | None
    """Lower-case resource id -> its findings on posture pillars."""
    tally: Tally | None = None
    """What `ScanResult.failed`, `status_counts` and `waived_count` say of these findings."""

    def checks(self) -> dict[str, CheckTally]:
        if self.by_check is None:
            raise ValueError("the findings were indexed without check tallies")
        return self.by_check

    def resources(self) -> dict[str, ResourceFindings]:
        if self.by_resource is None:
            raise ValueError("the findings were indexed without resources")
        return self.by_resource


def index_findings(
    findings: Iterable[Finding], *, checks: bool = True, resources: bool = True, tally: bool = False
) -> FindingIndex:
    """One pass: every finding is read once, here, while it is in cache (`tally`: also counted for
    the result's `Tally`, which every report asks for). Statuses compare by value: a finding built
    without validation may hold the plain string."""
    by_check: dict[str, CheckTally] | None = {} if checks else None
    by_resource: dict[str, ResourceFindings] | None = {} if resources else None
    lowered: dict[str, ResourceFindings] = {}  # findings of one resource share its id string: lower-case it once
    pillar_index = _PILLAR_INDEX.get
    last_check: str | None = None
    check_tally = CheckTally()
    counting = TallyBuilder() if tally else None
    for finding in findings:
        status = finding.status
        if counting is not None:
            counting.add(finding)
        if by_check is not None:
            check_id = finding.check_id
            if check_id != last_check:  # findings come in runs of one check
                found = by_check.get(check_id)
                if found is None:
                    found = by_check[check_id] = CheckTally()
                last_check, check_tally = check_id, found
            if status == _FAIL:
                if finding.waived_by:
                    check_tally.passing += 1
                else:
                    check_tally.failing.append(finding.fingerprint)
            elif status == _PASS:
                check_tally.passing += 1
            elif status in (_UNKNOWN, _ERROR):
                check_tally.unknown += 1
        if by_resource is not None:
            pillar = pillar_index(finding.pillar)
            if pillar is None:
                continue
            resource_id = finding.resource_id
            facts = lowered.get(resource_id)
            if facts is None:
                key = resource_id.lower()
                facts = by_resource.get(key)
                if facts is None:
                    facts = by_resource[key] = ResourceFindings()
                lowered[resource_id] = facts
            if status == _FAIL or finding.detail_key:
                facts.itemised.append(finding)
            elif status == _PASS:
                facts.passed[pillar] += 1
            elif status in (_UNKNOWN, _ERROR):
                facts.unknown[pillar] += 1
    return FindingIndex(by_check, by_resource, counting.tally() if counting is not None else None)


_Note = tuple[Finding, str | None, str, str | None]
"""What of one finding depends on the order of all findings: the finding, its fingerprint when it
is an unwaived failure, its check, and the key of its resource when posture reads it one by one."""


@dataclass(slots=True)
class Piece:
    """`index_findings` of one piece of the findings, less what depends on where each finding
    lands in the order of all of them (`notes`, one per finding, None when nothing does): a sharded
    run indexes each piece as it makes it, while its findings are fresh in cache and the other
    process still evaluates, and `merged` finishes the index in the final order. Indexed at the
    end instead, the findings are scattered over gigabytes and each read is a cache miss."""

    tally: TallyBuilder
    by_check: dict[str, CheckTally]
    """Counts only: failing fingerprints are added in order by `merged`."""
    by_resource: dict[str, ResourceFindings]
    """Counts only: findings read one by one are added in order by `merged`."""
    notes: list[_Note | None]


def index_piece(findings: Iterable[Finding]) -> Piece:
    """A `Piece` of these findings; each one's counts go where `index_findings` puts them."""
    counting = TallyBuilder()
    statuses, severities = counting.statuses, counting.severities
    by_check: dict[str, CheckTally] = {}
    by_resource: dict[str, ResourceFindings] = {}
    lowered: dict[str, str] = {}
    notes: list[_Note | None] = []
    note = notes.append
    pillar_index = _PILLAR_INDEX.get
    last_check: str | None = None
    check_tally = CheckTally()
    for finding in findings:
        status = finding.status
        statuses[status] += 1
        check_id = finding.check_id
        if check_id != last_check:
            found = by_check.get(check_id)
            if found is None:
                found = by_check[check_id] = CheckTally()
            last_check, check_tally = check_id, found
        failing = None
        waived = finding.waived_by
        if waived:
            counting.waived += 1
        if status == _FAIL:
            if waived:
                check_tally.passing += 1
            else:
                severities[finding.severity] += 1
                failing = finding.fingerprint
        elif status == _PASS:
            check_tally.passing += 1
        elif status in (_UNKNOWN, _ERROR):
            check_tally.unknown += 1
        itemised = None
        pillar = pillar_index(finding.pillar)
        if pillar is not None:
            resource_id = finding.resource_id
            key = lowered.get(resource_id)
            if key is None:
                key = lowered[resource_id] = resource_id.lower()
            facts = by_resource.get(key)
            if facts is None:
                facts = by_resource[key] = ResourceFindings()
            if status == _FAIL or finding.detail_key:
                itemised = key
            elif status == _PASS:
                facts.passed[pillar] += 1
            elif status in (_UNKNOWN, _ERROR):
                facts.unknown[pillar] += 1
        note((finding, failing, check_id, itemised) if failing is not None or itemised is not None else None)
    return Piece(counting, by_check, by_resource, notes)


def merged(pieces: Sequence[Piece], order: Iterable[int]) -> FindingIndex:
    """The `index_findings(..., tally=True)` of the pieces' findings put together in `order`
    (places in the pieces' findings one after another, as `notes` are): counts are summed, and
    only the findings whose place matters are walked, in order, through their notes."""
    counting = TallyBuilder()
    by_check: dict[str, CheckTally] = {}
    by_resource: dict[str, ResourceFindings] = {}
    for piece in pieces:
        for status, count in piece.tally.statuses.items():
            counting.statuses[status] += count
        for severity, count in piece.tally.severities.items():
            counting.severities[severity] += count
        counting.waived += piece.tally.waived
        for check_id, part in piece.by_check.items():
            found = by_check.get(check_id)
            if found is None:
                by_check[check_id] = part
            else:
                found.passing += part.passing
                found.unknown += part.unknown
        for key, facts in piece.by_resource.items():
            known = by_resource.get(key)
            if known is None:
                by_resource[key] = facts
            else:  # a finding about another resource (a verdict's subject) made in another piece
                known.passed = [a + b for a, b in zip(known.passed, facts.passed, strict=True)]
                known.unknown = [a + b for a, b in zip(known.unknown, facts.unknown, strict=True)]
    notes = [note for piece in pieces for note in piece.notes]
    failed = counting.failed
    for finding, failing, check_id, itemised in filter(None, map(notes.__getitem__, order)):
        if failing is not None:
            by_check[check_id].failing.append(failing)
            failed.append(finding)
        if itemised is not None:
            by_resource[itemised].itemised.append(finding)
    return FindingIndex(by_check, by_resource, counting.tally())
