"""The auditor's report: one self-contained HTML file that prints well.

The template only lays out what this module prepares, so every decision an auditor relies on
(what counts as failing, which controls need a documented justification, what is a coverage
gap) is made in Python, where it is tested. jinja2 autoescape is forced on: names, messages
and evidence come from the scanned estate and are untrusted. The file has no script at all,
and its Content-Security-Policy forbids any, as a second line of defence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import jinja2

from reports.digest import SEVERITY_ORDER, CheckTally, checks_by_id, detailed, evidence_value, tallies
from scanner.models import (
    CheckMeta,
    ControlResult,
    DeploymentPosture,
    Finding,
    FrameworkResult,
    PillarVerdict,
    ScanResult,
    Severity,
    Status,
)

TEMPLATES = Path(__file__).parent / "templates"
POSTURE_PILLARS: tuple[str, ...] = ("encryption", "private-network", "identity", "secrets")
"""The four axes a deployment is judged on; other pillars (monitoring) get a column only when present."""
LINKS_PER_CONTROL = 25
DETAILS_PER_CHECK = 50
"""Findings detailed per check; the rest are counted and left to the JSON and CSV reports, so the
page stays readable (and printable) at 100,000 resources."""
"""A control can sit on thousands of failures; the matrix links the first ones and counts the rest."""
LEVEL_LABELS = {"required": "Required (R)", "addressable": "Addressable (A)"}


@dataclass(frozen=True)
class FindingLink:
    anchor: str | None
    label: str


@dataclass(frozen=True)
class ControlRow:
    control: ControlResult
    level_label: str
    links: tuple[FindingLink, ...]
    more_failing: int
    needs_justification: bool
    """HIPAA: an addressable specification that fails is not optional; it needs a documented alternative."""


@dataclass(frozen=True)
class FrameworkView:
    framework: FrameworkResult
    counts: dict[str, int]
    rows: tuple[ControlRow, ...]
    anchor: str


@dataclass(frozen=True)
class PostureCell:
    verdict: PillarVerdict
    links: tuple[FindingLink, ...]
    """The failing findings behind the verdict, on the deployment or any dependency."""


@dataclass(frozen=True)
class PostureRow:
    posture: DeploymentPosture
    cells: tuple[PostureCell | None, ...]
    """One per column of `ReportView.pillars`; None when the pillar was not judged."""


@dataclass(frozen=True)
class CheckSection:
    """The non-passing findings of one check, with the check's rationale and remediation said once."""

    check_id: str
    title: str
    severity: Severity
    meta: CheckMeta | None
    findings: tuple[Finding, ...]
    anchor: str
    omitted: int = 0
    """Findings of this check not detailed here (see DETAILS_PER_CHECK)."""


@dataclass(frozen=True)
class SeverityRow:
    severity: str
    open: int
    waived: int
    baselined: int


@dataclass(frozen=True)
class ReportView:
    severity_rows: tuple[SeverityRow, ...]
    pillars: tuple[str, ...]
    postures: tuple[PostureRow, ...]
    frameworks: tuple[FrameworkView, ...]
    sections: tuple[CheckSection, ...]
    passing: tuple[CheckTally, ...]


def anchor_of(finding: Finding) -> str:
    """The id of a finding's detail block; frameworks and postures link to it by fingerprint."""
    fingerprint = finding.fingerprint or Finding.make_fingerprint(
        finding.check_id, finding.resource_id, finding.detail_key
    )
    return f"f-{fingerprint}"


def build_view(result: ScanResult) -> ReportView:
    """Everything the template shows, already ordered and aggregated."""
    shown = detailed(result.findings)
    sections = _sections(shown, checks_by_id(result))
    anchored = {f.fingerprint for section in sections for f in section.findings}
    by_fingerprint = {f.fingerprint: f for f in shown if f.fingerprint in anchored}
    judged = {verdict.pillar for posture in result.postures for verdict in posture.pillars}
    pillars = POSTURE_PILLARS + tuple(sorted(judged - set(POSTURE_PILLARS)))
    return ReportView(
        severity_rows=_severity_rows(result),
        pillars=pillars,
        postures=tuple(_posture_row(posture, pillars, by_fingerprint) for posture in result.postures),
        frameworks=tuple(_framework_view(framework, by_fingerprint) for framework in result.frameworks),
        sections=sections,
        passing=tuple(t for t in tallies(result) if t.counts["pass"] or t.counts["not_applicable"]),
    )


def _severity_rows(result: ScanResult) -> tuple[SeverityRow, ...]:
    rows = []
    for severity in SEVERITY_ORDER:
        fails = [f for f in result.findings if f.status is Status.FAIL and f.severity is severity]
        waived = sum(1 for f in fails if f.waived_by)
        baselined = sum(1 for f in fails if f.baselined and not f.waived_by)
        rows.append(SeverityRow(severity.value, len(fails) - waived - baselined, waived, baselined))
    return tuple(rows)


def _posture_row(
    posture: DeploymentPosture, pillars: tuple[str, ...], by_fingerprint: dict[str, Finding]
) -> PostureRow:
    cells: dict[str, PostureCell] = {
        verdict.pillar: PostureCell(verdict=verdict, links=_links(verdict.failing, by_fingerprint))
        for verdict in posture.pillars
    }
    return PostureRow(posture=posture, cells=tuple(cells.get(pillar) for pillar in pillars))


def _links(fingerprints: tuple[str, ...], by_fingerprint: dict[str, Finding]) -> tuple[FindingLink, ...]:
    """Links to finding details, capped; a fingerprint without a detailed finding is shown as text."""
    links = []
    for fingerprint in fingerprints[:LINKS_PER_CONTROL]:
        finding = by_fingerprint.get(fingerprint)
        if finding is None:
            links.append(FindingLink(anchor=None, label=fingerprint))
        else:
            label = f"{finding.check_id} · {finding.resource_name or finding.resource_id}"
            links.append(FindingLink(anchor=anchor_of(finding), label=label))
    return tuple(links)


def _framework_view(framework: FrameworkResult, by_fingerprint: dict[str, Finding]) -> FrameworkView:
    rows = []
    for control in framework.controls:
        level = (control.level or "").lower()
        rows.append(
            ControlRow(
                control=control,
                level_label=LEVEL_LABELS.get(level, control.level or ""),
                links=_links(control.failing, by_fingerprint),
                more_failing=max(0, len(control.failing) - LINKS_PER_CONTROL),
                needs_justification=control.status == "fail" and level == "addressable",
            )
        )
    return FrameworkView(framework=framework, counts=framework.counts(), rows=tuple(rows), anchor=f"fw-{framework.id}")


def _sections(shown: list[Finding], metas: dict[str, CheckMeta]) -> tuple[CheckSection, ...]:
    """One section per check with something to act on, the most severe checks first."""
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in shown:
        grouped[finding.check_id].append(finding)
    sections = []
    for check_id, findings in grouped.items():
        meta = metas.get(check_id)
        sections.append(
            CheckSection(
                check_id=check_id,
                title=meta.title if meta else findings[0].title,
                severity=meta.severity if meta else findings[0].severity,
                meta=meta,
                findings=tuple(findings[:DETAILS_PER_CHECK]),
                anchor=f"check-{check_id}",
                omitted=max(0, len(findings) - DETAILS_PER_CHECK),
            )
        )
    return tuple(sorted(sections, key=lambda s: (-s.severity.rank, s.check_id)))


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["evidence"] = evidence_value
    environment.filters["anchor"] = anchor_of
    return environment


_ENVIRONMENT = _environment()


def render(result: ScanResult) -> bytes:
    template = _ENVIRONMENT.get_template("report.html.j2")
    return template.render(view=build_view(result), r=result).encode()
