"""The executive summary every auditor-facing format opens with (HTML, PDF; Markdown may reuse it).

Per framework: controls met, failing, attested, manual (nothing automated and not yet attested)
and not assessed, and the share of in-scope controls met: passing on automated evidence, or
attested `implemented` (an attestation never overrides failing evidence: such a control stays
failing). "In scope" leaves out controls nobody could judge (no resource of theirs was
evaluated) and controls attested not applicable. Top risks are the open critical and high failures grouped by the ML
deployment they affect (through the deployment's own resources or its dependencies), then
the ones outside any deployment. Pure data: renderers lay it out.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from reports.names import deployment_name, framework_label, subscription_label
from scanner.models import ControlResult, DeploymentPosture, Finding, FrameworkResult, ScanResult, Severity, Status

CATEGORIES: tuple[tuple[str, str], ...] = (
    ("pass", "met"),
    ("fail", "failing"),
    ("attested", "attested"),
    ("manual", "manual (not yet attested)"),
    ("not_assessed", "not assessed"),
)
"""Control status -> column label, in the order the summary shows them."""
TOP_RISK_GROUPS = 10
"""Deployments shown in the summary; the posture section lists every one."""
RISK_SEVERITIES = frozenset({Severity.CRITICAL, Severity.HIGH})


@dataclass(frozen=True)
class FrameworkSummary:
    id: str
    label: str
    total: int
    counts: dict[str, int]
    """Control status -> number of controls; any status a catalog adds shows up under its own name."""
    in_scope: int
    met: int

    @property
    def met_share(self) -> str:
        return f"{round(100 * self.met / self.in_scope)}%" if self.in_scope else "n/a"


@dataclass(frozen=True)
class RiskGroup:
    deployment: str
    """`workspace/endpoint/deployment`, or "" for failures outside any ML deployment."""
    kind: str
    subscription: str
    findings: tuple[Finding, ...]
    """Open critical and high failures, worst first."""

    @property
    def critical(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.CRITICAL)

    @property
    def high(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.HIGH)


@dataclass(frozen=True)
class Summary:
    report_id: str
    frameworks: tuple[FrameworkSummary, ...]
    risks: tuple[RiskGroup, ...]
    """The worst TOP_RISK_GROUPS deployments, then the failures outside any deployment."""
    risky_deployments: int
    """Deployments with at least one open critical or high failure (may exceed those shown)."""
    open_by_severity: dict[str, int]
    gaps: int
    unknown_findings: int
    sources_not_collected: tuple[str, ...]
    subscriptions: tuple[str, ...]


def report_id(result: ScanResult) -> str:
    """A short id that changes whenever the judged content does, for citing a report in working papers.

    Independent of finding order, so the same result always carries the same id: the findings are
    hashed in (fingerprint, check, resource) order."""
    findings = result.findings
    fingerprints = {finding.fingerprint for finding in findings}
    if len(fingerprints) == len(findings) and len({len(fp) for fp in fingerprints}) <= 1:
        return report_id_of(result, [f"{f.fingerprint}:{f.status}:{f.waived_by or ''}\n" for f in findings])
    digest = hashlib.sha256(_header(result))
    for finding in sorted(findings, key=lambda f: (f.fingerprint, f.check_id, f.resource_id)):
        digest.update(f"{finding.fingerprint}:{finding.status.value}:{finding.waived_by or ''}\n".encode())
    return "MLW-" + digest.hexdigest()[:12].upper()


def report_id_of(result: ScanResult, lines: list[str]) -> str:
    """`report_id` from each finding's `fingerprint:status:waiver` line, in any order, for findings
    whose fingerprints are distinct and of one length (always, from the scanner): sorting the lines
    themselves is then sorting by fingerprint, and one sort of plain strings is a fraction of a sort
    by a Python key over a large estate. Sorts `lines` in place."""
    lines.sort()
    digest = hashlib.sha256(_header(result))
    digest.update("".join(lines).encode())
    return "MLW-" + digest.hexdigest()[:12].upper()


def _header(result: ScanResult) -> bytes:
    return f"{result.generated_at.isoformat()}|{result.scope.description}".encode()


def _attested_as(control: ControlResult) -> str:
    attestation = control.attestation
    return attestation.status if attestation is not None and control.status == "attested" else ""


def framework_summary(framework: FrameworkResult) -> FrameworkSummary:
    """Counts per status; met = passing, or attested implemented; an attested not-applicable control is out of scope."""
    counts = Counter(str(control.status) for control in framework.controls)
    ordered = {status: counts.get(status, 0) for status, _ in CATEGORIES}
    ordered.update({status: n for status, n in sorted(counts.items()) if status not in ordered})
    attested = Counter(_attested_as(control) for control in framework.controls)
    in_scope = len(framework.controls) - ordered["not_assessed"] - attested["not-applicable"]
    return FrameworkSummary(
        id=framework.id,
        label=framework_label(framework.name, framework.version),
        total=len(framework.controls),
        counts=ordered,
        in_scope=in_scope,
        met=ordered["pass"] + attested["implemented"],
    )


def _risk_order(finding: Finding) -> tuple[int, str, str]:
    return (-finding.severity.rank, finding.check_id, finding.resource_id.lower())


def risky_failures(findings: Iterable[Finding]) -> dict[str, Finding]:
    """Fingerprint -> the open critical and high failures among `findings` (`result.failed()`)."""
    return {finding.fingerprint: finding for finding in findings if finding.severity in RISK_SEVERITIES}


def _risk_groups(result: ScanResult, risky: dict[str, Finding] | None = None) -> tuple[list[RiskGroup], int]:
    """Deployments ranked by their critical and high counts; only the shown ones sort their findings.
    `risky`: `risky_failures(result.failed())` when the caller already has it."""
    if risky is None:
        risky = risky_failures(result.failed())
    names = result.scope.subscription_names
    ranked: list[tuple[int, int, str, DeploymentPosture, set[str]]] = []
    claimed: set[str] = set()
    # set operations, not a loop per fingerprint: deployments share dependencies, so their failing
    # lists add up to as many fingerprints as the estate has failures
    risky_set = set(risky)
    criticals, highs = set(), set()
    for fp, finding in risky.items():
        if finding.severity is Severity.CRITICAL:
            criticals.add(fp)
        elif finding.severity is Severity.HIGH:
            highs.add(fp)
    for posture in result.postures:
        failing: set[str] = set()
        for verdict in posture.pillars:
            failing.update(verdict.failing)
        fingerprints = failing & risky_set
        claimed |= fingerprints
        if fingerprints:
            critical, high = len(fingerprints & criticals), len(fingerprints & highs)
            ranked.append((-critical, -high, deployment_name(posture), posture, fingerprints))
    ranked.sort(key=lambda entry: entry[:3])
    shown = [
        _group(posture, sorted((risky[fp] for fp in fingerprints), key=_risk_order), names)
        for *_, posture, fingerprints in ranked[:TOP_RISK_GROUPS]
    ]
    outside = sorted((f for fp, f in risky.items() if fp not in claimed), key=_risk_order)
    if outside:
        shown.append(RiskGroup(deployment="", kind="", subscription="", findings=tuple(outside)))
    return shown, len(ranked)


def _group(posture: DeploymentPosture, findings: list[Finding], names: dict[str, str]) -> RiskGroup:
    return RiskGroup(
        deployment=deployment_name(posture),
        kind=posture.kind,
        subscription=subscription_label(posture.subscription_id, names),
        findings=tuple(findings),
    )


def _unknown(result: ScanResult) -> int:
    """Unknown and error results, from the per-result tally every renderer shares."""
    counts = result.status_counts()
    return counts[Status.UNKNOWN.value] + counts[Status.ERROR.value]


def summarize(result: ScanResult, known_id: str | None = None, risky: dict[str, Finding] | None = None) -> Summary:
    """`known_id` and `risky`: the report id and `risky_failures` when the caller already worked them out."""
    risks, risky_deployments = _risk_groups(result, risky)
    counts = result.severity_counts()  # of the unwaived failures, from the tally every renderer shares
    open_by_severity = {s.value: counts.get(s.value, 0) for s in sorted(Severity, key=lambda s: -s.rank)}
    names = result.scope.subscription_names
    return Summary(
        report_id=known_id or report_id(result),
        frameworks=tuple(framework_summary(fw) for fw in result.frameworks),
        risks=tuple(risks),
        risky_deployments=risky_deployments,
        open_by_severity=open_by_severity,
        gaps=len(result.gaps),
        unknown_findings=_unknown(result),
        sources_not_collected=tuple(s.name for s in result.sources if not s.collected),
        subscriptions=tuple(subscription_label(sub, names) for sub in result.scope.subscriptions),
    )
