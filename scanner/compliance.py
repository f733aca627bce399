"""Turn findings into control results for one framework.

Frameworks are data (`frameworks/*.yaml`); they name checks by tag or id, never import them.
A control's status, worst first:

- `fail`: a mapped check failed on some resource (waived findings do not count);
- `not_assessed`: a mapped check could not judge some resource (coverage gap or check error),
  or no resource in scope was evaluated by any mapped check;
- `pass`: every evaluated resource passed;
- `manual`: nothing automated maps to the control; an auditor collects the evidence by hand.

An attestation in force (not expired on the scan date) turns a `manual` or `not_assessed`
control into `attested`. It never overrides automated evidence: a failing control stays `fail`
and a passing one `pass`, both carrying the attestation so a reader sees the two side by side.
An expired attestation changes nothing but is kept on the control so reports can say so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from itertools import chain
from typing import Any

from frameworks.catalog import Control, Framework
from scanner.bulk import collector_paused
from scanner.finding_index import CheckTally, FindingIndex, index_findings
from scanner.models import Attestation, CheckMeta, ControlResult, Finding, FrameworkResult, trusted


def _mapped_checks(control: Control, checks_by_tag: Mapping[str, list[str]]) -> tuple[list[str], str | None]:
    ids: dict[str, None] = {}
    strength: str | None = None
    for mapping in control.mappings:
        for tag in mapping.tags:
            ids.update(dict.fromkeys(checks_by_tag.get(tag, ())))
        ids.update(dict.fromkeys(mapping.checks))
        if mapping.strength == "direct" or strength is None:
            strength = mapping.strength
    return sorted(ids), strength


_EMPTY = CheckTally()
_MANUAL_SET = {"framework_id", "control_id", "title", "level", "kind", "manual_evidence", "status", "reason"}
_MAPPED_SET = _MANUAL_SET | {"strength", "check_ids", "failing", "passing_count", "unknown_count"}
"""The field sets keyword construction records for a manual and a mapped control result."""


def _result(
    framework: Framework,
    control: Control,
    status: str,
    reason: str,
    mapped: tuple[str | None, tuple[str, ...], tuple[str, ...], int, int] | None = None,
) -> ControlResult:
    """A control result from values of the field types (`models.trusted`): validating one would walk every
    failing fingerprint again, and at 100,000 resources the controls name millions of them."""
    strength, check_ids, failing, passing, unknown = mapped or (None, (), (), 0, 0)
    values = {
        "framework_id": framework.id,
        "control_id": control.id,
        "title": control.title,
        "status": status,
        "level": control.level,
        "kind": control.kind,
        "strength": strength,
        "reason": reason,
        "check_ids": check_ids,
        "failing": failing,
        "passing_count": passing,
        "unknown_count": unknown,
        "manual_evidence": control.manual_evidence,
        "attestation": None,
        "expired_attestation": None,
    }
    return trusted(ControlResult, values, _MAPPED_SET if mapped else _MANUAL_SET)


def _control_result(
    framework: Framework,
    control: Control,
    checks_by_tag: Mapping[str, list[str]],
    tallies: Mapping[str, CheckTally],
    not_run: frozenset[str] = frozenset(),
    joined: dict[tuple[str, ...], tuple[str, ...]] | None = None,
) -> ControlResult:
    """`joined` keeps the failing fingerprints of each set of mapped checks: controls mapping the same
    checks share one tuple instead of each copying every fingerprint."""
    if not control.mappings:
        return _result(framework, control, "manual", "no automated check maps to this control")
    ids, strength = _mapped_checks(control, checks_by_tag)
    check_ids = tuple(ids)
    mapped = [tallies.get(check_id, _EMPTY) for check_id in check_ids]
    failing = joined.get(check_ids) if joined is not None else None
    if failing is None:
        failing = tuple(chain.from_iterable(entry.failing for entry in mapped))
        if joined is not None:
            joined[check_ids] = failing
    passing = sum(entry.passing for entry in mapped)
    unknown = sum(entry.unknown for entry in mapped)
    skipped = [c for c in check_ids if c in not_run]
    if failing:
        status, reason = "fail", f"{len(failing)} failing finding(s)"
    elif skipped:
        status, reason = "not_assessed", f"{len(skipped)} mapped check(s) not run in this scan (check selection)"
    elif unknown:
        status, reason = "not_assessed", f"{unknown} resource(s) could not be evaluated (coverage gap or error)"
    elif passing:
        status, reason = "pass", f"{passing} evaluated resource(s) passed"
    else:
        status, reason = "not_assessed", "no resource in scope was evaluated by the mapped checks"
    return _result(framework, control, status, reason, (strength, check_ids, failing, passing, unknown))


def attest(result: ControlResult, attestation: Attestation | None, today: date) -> ControlResult:
    """Attach an attestation to a control result; only controls without automated verdicts change status."""
    if attestation is None:
        return result
    if attestation.expires < today:
        return result.model_copy(update={"expired_attestation": attestation})
    update: dict[str, Any] = {"attestation": attestation}
    if result.status in ("manual", "not_assessed"):
        update["status"] = "attested"
        update["reason"] = (
            f"attested {attestation.status} by {attestation.attested_by} ({attestation.role}) on "
            f"{attestation.date.isoformat()}, expires {attestation.expires.isoformat()}"
        )
    return result.model_copy(update=update)


@collector_paused()  # builds many small acyclic objects beside every finding: no collector walks
def evaluate(
    frameworks: Sequence[Framework],
    checks: Iterable[CheckMeta],
    findings: Iterable[Finding] | FindingIndex,
    attestations: Mapping[tuple[str, str], Attestation] | None = None,
    today: date | None = None,
    not_run: frozenset[str] = frozenset(),
) -> tuple[FrameworkResult, ...]:
    """Control results per framework; `attestations` is keyed by (framework id, control id). `checks` is
    the whole catalog (tags expand over it); `not_run` names the checks a selection left out."""
    attestations = attestations or {}
    if attestations and today is None:
        raise ValueError("attestations need the scan date to judge expiry")
    checks_by_tag: dict[str, list[str]] = defaultdict(list)
    for meta in checks:
        for tag in meta.tags:
            checks_by_tag[tag].append(meta.id)
    tallies = (findings if isinstance(findings, FindingIndex) else index_findings(findings, resources=False)).checks()
    joined: dict[tuple[str, ...], tuple[str, ...]] = {}
    return tuple(
        FrameworkResult(
            id=framework.id,
            name=framework.name,
            version=framework.version,
            controls=tuple(
                attest(
                    _control_result(framework, control, checks_by_tag, tallies, not_run, joined),
                    attestations.get((framework.id, control.id)),
                    today or date.min,
                )
                for control in framework.controls
            ),
        )
        for framework in frameworks
    )
