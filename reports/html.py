"""The auditor's report: one self-contained HTML file that prints well.

The template only lays out what this module prepares, so every decision an auditor relies on
(what counts as failing, which controls need a documented justification, what is a coverage
gap) is made in Python, where it is tested. jinja2 autoescape is forced on: names, messages
and evidence come from the scanned estate and are untrusted. The file has no script at all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from reports.digest import SEVERITY_ORDER, CheckTally, checks_by_id, detailed, evidence_value, tallies
from scanner.models import CheckMeta, ControlResult, Finding, FrameworkResult, ScanResult, Status

TEMPLATES = Path(__file__).parent / "templates"
POSTURE_PILLARS: tuple[str, ...] = ("encryption", "private-network", "identity", "secrets")
"""The four axes a deployment is judged on; `monitoring` is shown only when a posture has it."""
LINKS_PER_CONTROL = 25
"""A control can sit on thousands of failures; the matrix links the first ones, the rest are counted."""

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


@dataclass(frozen=True)
class FrameworkView:
    framework: FrameworkResult
    counts: dict[str, int]
    rows: tuple[ControlRow, ...]
    anchor: str


@dataclass(frozen=True)
class CheckSection:
    """The non-passing findings of one check, with the check's remediation said once."""

    check_id: str
    meta: CheckMeta | None
    findings: tuple[Finding, ...]
    anchor: str


@dataclass
class ReportView:
    result: ScanResult
    severity_rows: list[tuple[str, int, int, int]] = field(default_factory=list)
    frameworks: list[FrameworkView] = field(default_factory=list)
    sections: list[CheckSection] = field(default_factory=list)
    passing: list[CheckTally] = field(default_factory=list)
    pillars: tuple[str, ...] = POSTURE_PILLARS


def anchor_of(finding: Finding) -> str:
    fingerprint = finding.fingerprint or Finding.make_fingerprint(
        finding.check_id, finding.resource_id, finding.detail_key
    )
    return f"f-{fingerprint}"


def build_view(result: ScanResult) -> ReportView:
    """Everything the template shows, already ordered and aggregated."""
    shown = detailed(result.findings)
    by_fingerprint = {f.fingerprint: f for f in shown if f.fingerprint}
    view = ReportView(result=result)
    view.severity_rows = _severity_rows(result)
    view.frameworks = [_framework_view(fw, by_fingerprint) for fw in result.frameworks]
    view.sections = _sections(shown, checks_by_id(result))
    view.passing = [t for t in tallies(result) if t.counts["pass"] or t.counts["not_applicable"]]
    extra = sorted({v.pillar for p in result.postures for v in p.pillars} - set(POSTURE_PILLARS))
    view.pillars = POSTURE_PILLARS + tuple(extra)
    return view


def _severity_rows(result: ScanResult) -> list[tuple[str, int, int, int]]:
    """(severity, open failures, waived, baselined) worst first."""
    rows = []
    for severity in SEVERITY_ORDER:
        fails = [f for f in result.findings if f.status is Status.FAIL and f.severity is severity]
        waived = sum(1 for f in fails if f.waived_by)
        baselined = sum(1 for f in fails if f.baselined and not f.waived_by)
        rows.append((severity.value, len(fails) - waived - baselined, waived, baselined))
    return rows


def _framework_view(framework: FrameworkResult, by_fingerprint: dict[str, Finding]) -> FrameworkView:
    rows = []
    for control in framework.controls:
        links = []
        for fingerprint in control.failing[:LINKS_PER_CONTROL]:
            finding = by_fingerprint.get(fingerprint)
            if finding is None:
                links.append(FindingLink(anchor=None, label=fingerprint))
            else:
                label = f"{finding.check_id} · {finding.resource_name or finding.resource_id}"
                links.append(FindingLink(anchor=anchor_of(finding), label=label))
        level = (control.level or "").lower()
        rows.append(
            ControlRow(
                control=control,
                level_label=LEVEL_LABELS.get(level, control.level or ""),
                links=tuple(links),
                more_failing=max(0, len(control.failing) - LINKS_PER_CONTROL),
                needs_justification=control.status == "fail" and level == "addressable",
            )
        )
    return FrameworkView(framework=framework, counts=framework.counts(), rows=tuple(rows), anchor=f"fw-{framework.id}")


def _sections(shown: list[Finding], metas: dict[str, CheckMeta]) -> list[CheckSection]:
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in shown:
        grouped[finding.check_id].append(finding)

    order = sorted(grouped, key=lambda cid: (min(-f.severity.rank for f in grouped[cid]), cid))
    return [
        CheckSection(check_id=cid, meta=metas.get(cid), findings=tuple(grouped[cid]), anchor=f"check-{cid}")
        for cid in order
    ]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


_ENV = _environment()
_ENV.filters["evidence"] = evidence_value


def render(result: ScanResult) -> bytes:
    template = _ENV.get_template("report.html.j2")
    return template.render(view=build_view(result), r=result).encode()
