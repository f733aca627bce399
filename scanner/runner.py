"""Run every check over the estate in one pass, checks indexed by resource kind.

A check that raises becomes an `error` finding for that resource and the scan goes on. A check
that needs a source the collection did not read (or read with a gap covering the resource)
becomes `unknown`, a coverage gap, without being called.
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from collections.abc import Iterable, Mapping

from scanner.estate import Estate
from scanner.models import Finding, Resource, Status
from scanner.registry import Check, Verdict, unknown
from scanner.unevaluated import undetermined

_ACTIONABLE = frozenset({Status.FAIL, Status.ERROR, Status.UNKNOWN})


def index_by_kind(checks: Iterable[Check]) -> dict[str, list[Check]]:
    by_kind: dict[str, list[Check]] = defaultdict(list)
    for item in sorted(checks, key=lambda c: c.meta.id):
        for kind in item.meta.kinds:
            by_kind[kind].append(item)
    return by_kind


def _verdicts(item: Check, resource: Resource, estate: Estate) -> list[Verdict]:
    for source in item.meta.needs:
        reason = estate.not_applicable(source)
        if reason is not None:
            return [Verdict(Status.NOT_APPLICABLE, reason)]
        gap = estate.gap(source, resource.id)
        if gap is not None:
            return [unknown(f"coverage gap: {gap.reason}")]
    try:
        result = item.func(resource, estate)
        verdicts = [result] if isinstance(result, Verdict) else list(result)
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        # Only the exception type and where it was raised: its message could quote data.
        where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
        return [Verdict(Status.ERROR, f"check raised {type(exc).__name__} at {where}")]
    for verdict in verdicts:
        if not isinstance(verdict, Verdict):
            return [Verdict(Status.ERROR, f"check returned {type(verdict).__name__}, not a Verdict")]
    if not verdicts:
        return [Verdict(Status.NOT_APPLICABLE, "nothing to evaluate on this resource")]
    return [undetermined(v) if resource.source_file else v for v in verdicts]


def _finding(item: Check, resource: Resource, estate: Estate, verdict: Verdict) -> Finding:
    meta = item.meta
    subject_id = verdict.subject_id or resource.id
    subject = estate.get(subject_id) if verdict.subject_id else resource
    return Finding(
        check_id=meta.id,
        resource_id=subject.id if subject else subject_id,
        resource_type=subject.type_key if subject else "unknown",
        resource_name=subject.name if subject else subject_id.rsplit("/", 1)[-1],
        subscription_id=subject.subscription_id if subject else resource.subscription_id,
        status=verdict.status,
        severity=verdict.severity or meta.severity,
        title=meta.title,
        message=verdict.message,
        evidence=verdict.evidence,
        # Remediation is for what needs fixing; passes stay small in 100k-resource reports.
        remediation=meta.remediation if verdict.status in _ACTIONABLE else None,
        detail_key=verdict.detail_key,
        tags=meta.tags,
        pillar=meta.pillar,
        fingerprint=Finding.make_fingerprint(meta.id, subject_id, verdict.detail_key),
        source_file=(subject or resource).source_file,
        source_line=(subject or resource).source_line,
        source_address=(subject or resource).source_address,
    )


def run_checks(estate: Estate, checks: Mapping[str, Check]) -> list[Finding]:
    by_kind = index_by_kind(checks.values())
    findings: list[Finding] = []
    for resource in estate.resources:
        kind = estate.kind_of.get(resource.id_key)
        if kind is None:
            continue
        for item in by_kind.get(kind, ()):
            for verdict in _verdicts(item, resource, estate):
                findings.append(_finding(item, resource, estate, verdict))
    findings.sort(key=lambda f: (-f.severity.rank, f.check_id, f.resource_id.lower(), f.detail_key or ""))
    return findings
