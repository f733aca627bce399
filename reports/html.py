"""The auditor's report: one self-contained HTML file, and the same templates for the PDF.

The template only lays out what this module prepares, so every decision an auditor relies on
(what counts as failing, the order of evidence, what is a coverage gap) is made in Python,
where it is tested. jinja2 autoescape is forced on: names, messages and evidence come from the
scanned estate and are untrusted. The file has no script at all, and its Content-Security-Policy
forbids any, as a second line of defence.

Every finding is listed once, under its check, with an anchor; controls and deployments link
to those anchors instead of repeating them, which keeps a 20,000-resource report small. Nothing
is dropped silently: when a list is too long to repeat at each control, the control says where
its findings are listed, and when a report is too large for per-finding evidence tables, it
says that the JSON and CSV reports carry them.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import jinja2
from markupsafe import Markup, escape

from reports import executive
from reports.digest import SEVERITY_ORDER, checks_by_id, evidence_value, finding_order
from reports.names import (
    DeploymentIndex,
    attestation_fields,
    deployment_name,
    display_name,
    framework_label,
    resource_group_of,
    subscription_label,
    when,
)
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
LINK_BUDGET = 6000
"""Control-to-finding links the HTML repeats at each control; beyond it controls link to their checks."""
EVIDENCE_BUDGET = 3000
"""Findings that get an ARM id and evidence table in the HTML; beyond it rows stay compact (JSON/CSV have all)."""
RISK_LINES = 5
"""Failures named per deployment in the executive summary; the posture and findings sections list the rest."""
LEVEL_LABELS = {"required": "Required (R)", "addressable": "Addressable (A)"}
LISTED = frozenset({Status.FAIL, Status.ERROR, Status.UNKNOWN})
_FLUSH_CHARS = 1 << 20
_COUNTED = ("failing", "waived", "passing", "unknown")
_STATUS_RANK = {Status.FAIL: 0, Status.ERROR: 1, Status.UNKNOWN: 2, Status.PASS: 3, Status.NOT_APPLICABLE: 4}

Media = Literal["screen", "print"]


@dataclass(frozen=True)
class Item:
    """One finding as the report lists it."""

    finding: Finding
    name: str
    anchor: str
    deployments: tuple[str, ...]
    location: str
    """`subscription name · resource group` (the scope table pairs each name with its id)."""


@dataclass(frozen=True)
class CheckLine:
    """One check behind a control, with its counts, linking to where its findings are listed."""

    check_id: str
    severity: Severity | None
    anchor: str
    counts: dict[str, int]


@dataclass(frozen=True)
class ControlRow:
    control: ControlResult
    level_label: str
    needs_justification: bool
    """HIPAA: an addressable specification that fails is not optional; it needs a documented alternative."""
    checks: tuple[CheckLine, ...]
    failing: tuple[Item, ...]
    """Open failures, worst severity first, then by deployment; empty when not repeated here."""
    passing: tuple[str, ...]
    """Names of the resources that passed; empty when not repeated here."""
    listed: bool
    attestation: dict[str, str]
    expired_attestation: dict[str, str]


@dataclass(frozen=True)
class FrameworkView:
    framework: FrameworkResult
    label: str
    summary: executive.FrameworkSummary
    rows: tuple[ControlRow, ...]
    anchor: str
    has_levels: bool
    """Whether the catalog flags controls required/addressable (HIPAA): only then is there an R/A column."""


@dataclass(frozen=True)
class PostureCell:
    verdict: PillarVerdict
    links: tuple[Item, ...]


@dataclass(frozen=True)
class PostureRow:
    posture: DeploymentPosture
    name: str
    subscription: str
    cells: tuple[PostureCell | None, ...]


@dataclass(frozen=True)
class MessageGroup:
    """Findings of one check sharing a result and message: the compact listing of a large estate."""

    severity: Severity
    status: Status
    waived: bool
    message: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class CheckSection:
    check_id: str
    title: str
    severity: Severity
    meta: CheckMeta | None
    anchor: str
    items: tuple[Item, ...]
    """Fail, error and unknown findings (waived ones included, marked), worst first, then by deployment."""
    passing: tuple[str, ...]
    """Names of the resources that passed, by name."""
    not_applicable: int

    def groups(self) -> list[MessageGroup]:
        """The items grouped by (severity, status, waived, message), keeping their order within each group."""
        grouped: dict[tuple[Severity, Status, bool, str], list[Item]] = {}
        for item in self.items:
            f = item.finding
            grouped.setdefault((f.severity, f.status, bool(f.waived_by), f.message), []).append(item)
        return [MessageGroup(*key, items=tuple(items)) for key, items in grouped.items()]


@dataclass(frozen=True)
class ReportView:
    media: Media
    detail: Literal["summary", "full"]
    evidence: bool
    """Per-finding rows with ARM ids and evidence (HTML under EVIDENCE_BUDGET findings); else the compact listing:
    findings grouped by message, names only, posture verdicts without their reasons."""
    summary: executive.Summary
    severity_rows: tuple[tuple[str, int, int, int], ...]
    pillars: tuple[str, ...]
    postures: tuple[PostureRow, ...]
    frameworks: tuple[FrameworkView, ...]
    sections: tuple[CheckSection, ...]
    subscriptions: tuple[str, ...]
    findings_listed: int


def anchor_of(finding: Finding) -> str:
    """The id of a finding's row; controls and postures link to it."""
    fingerprint = finding.fingerprint or Finding.make_fingerprint(
        finding.check_id, finding.resource_id, finding.detail_key
    )
    return f"f{fingerprint[:12]}"


def item_order(item: Item) -> tuple[int, int, str, str, str]:
    """Worst status, worst severity, then deployment (resources outside any last), then name."""
    return (
        _STATUS_RANK[item.finding.status],
        -item.finding.severity.rank,
        item.deployments[0] if item.deployments else "\uffff",
        item.name.lower(),
        item.finding.check_id,
    )


@dataclass
class _CheckFindings:
    """What the report keeps of one check's findings: an Item for each one to act on (fail, error,
    unknown), only the name of each pass, only the count of the rest. On a large, mostly healthy
    estate passes are most findings, and an Item each would be a second copy of all of them."""

    first: Finding
    """The worst finding, for the title and severity of a check the catalog does not know."""
    items: list[Item] = field(default_factory=list)
    passing: list[tuple[str, int, str, int, str]] = field(default_factory=list)
    """(lower-cased name, -severity, first deployment, arrival, name) of each pass: the order the report gives them."""
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("failing", "waived", "passing", "unknown"), 0)
    )
    not_applicable: int = 0

    def passing_names(self) -> list[str]:
        return [entry[-1] for entry in sorted(self.passing)]


def _collect(result: ScanResult, deployments: DeploymentIndex) -> tuple[dict[str, Item], dict[str, _CheckFindings]]:
    """One pass over the findings (the first of each fingerprint, in report order)."""
    names = result.scope.subscription_names
    places: dict[tuple[str, str | None], str] = {}
    seen: set[str] = set()
    items: dict[str, Item] = {}
    by_check: dict[str, _CheckFindings] = {}
    for finding in sorted(result.findings, key=finding_order):
        if finding.fingerprint in seen:
            continue
        seen.add(finding.fingerprint)
        check = by_check.get(finding.check_id)
        if check is None:
            check = by_check[finding.check_id] = _CheckFindings(first=finding)
        elif (_STATUS_RANK[finding.status], -finding.severity.rank) < (
            _STATUS_RANK[check.first.status],
            -check.first.severity.rank,
        ):
            check.first = finding
        status = finding.status
        if status is Status.PASS:
            check.counts["passing"] += 1
            name, serves = display_name(finding), deployments.of(finding)
            first = serves[0] if serves else "\uffff"
            check.passing.append((name.lower(), -finding.severity.rank, first, len(check.passing), name))
            continue
        if status is Status.NOT_APPLICABLE:
            check.not_applicable += 1
            continue
        if status is Status.FAIL:
            check.counts["waived" if finding.waived_by else "failing"] += 1
        elif status in (Status.UNKNOWN, Status.ERROR):
            check.counts["unknown"] += 1
        if status not in LISTED:
            continue
        sub = finding.subscription_id or ""
        rg = resource_group_of(finding.resource_id)
        where = places.get((sub, rg))
        if where is None:
            where = places[sub, rg] = names.get(sub.lower(), sub) + (f" · {rg}" if rg else "")
        item = Item(finding, display_name(finding), anchor_of(finding), deployments.of(finding), where)
        items[finding.fingerprint] = item
        check.items.append(item)
    for check in by_check.values():
        check.items.sort(key=item_order)
    return items, by_check


def build_view(result: ScanResult, media: Media = "screen", detail: Literal["summary", "full"] = "full") -> ReportView:
    """Everything the template shows, already ordered and aggregated."""
    names = result.scope.subscription_names
    items, by_check = _collect(result, DeploymentIndex(result.postures))
    metas = checks_by_id(result)
    links = sum(len(c.failing) + c.passing_count for fw in result.frameworks for c in fw.controls)
    listed = media == "screen" and links <= LINK_BUDGET
    sections = _sections(by_check, metas)
    lines = {check_id: _check_line(check_id, check, metas) for check_id, check in by_check.items()}
    judged = {verdict.pillar for posture in result.postures for verdict in posture.pillars}
    pillars = POSTURE_PILLARS + tuple(sorted(judged - set(POSTURE_PILLARS)))
    return ReportView(
        media=media,
        detail=detail,
        evidence=media == "screen" and sum(len(s.items) for s in sections) <= EVIDENCE_BUDGET,
        summary=executive.summarize(result),
        severity_rows=_severity_rows(result),
        pillars=pillars,
        postures=tuple(_posture_row(p, pillars, items, names) for p in result.postures),
        frameworks=tuple(_framework_view(fw, by_check, items, lines, metas, listed) for fw in result.frameworks),
        sections=sections,
        subscriptions=tuple(subscription_label(sub, names) for sub in result.scope.subscriptions),
        findings_listed=sum(len(s.items) for s in sections),
    )


def _severity_rows(result: ScanResult) -> tuple[tuple[str, int, int, int], ...]:
    """(severity, open, waived, baselined) failing findings, worst first."""
    counts: dict[tuple[Severity, str], int] = defaultdict(int)
    for f in result.findings:
        if f.status is Status.FAIL:
            counts[f.severity, "waived" if f.waived_by else "baselined" if f.baselined else "open"] += 1
    return tuple(
        (severity.value, counts[severity, "open"], counts[severity, "waived"], counts[severity, "baselined"])
        for severity in SEVERITY_ORDER
    )


def _posture_row(
    posture: DeploymentPosture, pillars: tuple[str, ...], items: dict[str, Item], names: dict[str, str]
) -> PostureRow:
    cells: dict[str, PostureCell] = {}
    for verdict in posture.pillars:
        linked = sorted((items[fp] for fp in verdict.failing if fp in items), key=item_order)
        cells[verdict.pillar] = PostureCell(verdict=verdict, links=tuple(linked))
    return PostureRow(
        posture=posture,
        name=deployment_name(posture),
        subscription=subscription_label(posture.subscription_id, names),
        cells=tuple(cells.get(pillar) for pillar in pillars),
    )


def _check_line(check_id: str, check: _CheckFindings | None, metas: dict[str, CheckMeta]) -> CheckLine:
    meta = metas.get(check_id)
    counts = dict(check.counts) if check else dict.fromkeys(_COUNTED, 0)
    return CheckLine(check_id, meta.severity if meta else None, f"check-{check_id}", counts)


def _framework_view(
    framework: FrameworkResult,
    by_check: dict[str, _CheckFindings],
    items: dict[str, Item],
    lines: dict[str, CheckLine],
    metas: dict[str, CheckMeta],
    listed: bool,
) -> FrameworkView:
    rows = []
    for control in framework.controls:
        level = (control.level or "").lower()
        failing: list[Item] = []
        passing: list[str] = []
        if listed:
            failing = sorted((items[fp] for fp in control.failing if fp in items), key=item_order)
            passing = sorted(
                {
                    entry[-1]
                    for check_id in control.check_ids
                    if check_id in by_check
                    for entry in by_check[check_id].passing
                }
            )
        rows.append(
            ControlRow(
                control=control,
                level_label=LEVEL_LABELS.get(level, control.level or ""),
                needs_justification=control.status == "fail" and level == "addressable",
                checks=tuple(lines.get(c) or _check_line(c, None, metas) for c in control.check_ids),
                failing=tuple(failing),
                passing=tuple(passing),
                listed=listed,
                attestation=attestation_fields(control),
                expired_attestation=attestation_fields(control, "expired_attestation"),
            )
        )
    return FrameworkView(
        framework=framework,
        label=framework_label(framework.name, framework.version),
        summary=executive.framework_summary(framework),
        rows=tuple(rows),
        anchor=f"fw-{framework.id}",
        has_levels=any(control.level for control in framework.controls),
    )


def _sections(by_check: dict[str, _CheckFindings], metas: dict[str, CheckMeta]) -> tuple[CheckSection, ...]:
    """One section per check that produced findings, the most severe checks first."""
    sections = []
    for check_id, check in by_check.items():
        meta = metas.get(check_id)
        sections.append(
            CheckSection(
                check_id=check_id,
                title=meta.title if meta else check.first.title,
                severity=meta.severity if meta else check.first.severity,
                meta=meta,
                anchor=f"check-{check_id}",
                items=tuple(check.items),
                passing=tuple(check.passing_names()),
                not_applicable=check.not_applicable,
            )
        )
    return tuple(sorted(sections, key=lambda s: (not s.items, -s.severity.rank, s.check_id)))


def wrap_id(value: str) -> Markup:
    """An ARM id that may break after each '/', so tables never hard-wrap it mid-name."""
    return Markup("/<wbr>").join(escape(part) for part in value.split("/"))


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
    environment.filters["wrap_id"] = wrap_id
    environment.filters["when"] = when
    environment.filters["anchor"] = anchor_of
    environment.filters["rname"] = display_name
    environment.globals["categories"] = executive.CATEGORIES
    environment.globals["known"] = [status for status, _ in executive.CATEGORIES]
    environment.globals["risk_lines"] = RISK_LINES
    return environment


_ENVIRONMENT = _environment()


def render_view(result: ScanResult, view: ReportView, paper: str = "A4") -> str:
    return _ENVIRONMENT.get_template("report.html.j2").render(view=view, r=result, paper=paper)


def write_view(result: ScanResult, view: ReportView, handle: IO[bytes], paper: str = "A4") -> None:
    """Stream the page through jinja2's generator, about a megabyte at a time, instead of one string."""
    parts: list[str] = []
    size = 0
    for part in _ENVIRONMENT.get_template("report.html.j2").generate(view=view, r=result, paper=paper):
        parts.append(part)
        size += len(part)
        if size >= _FLUSH_CHARS:
            handle.write("".join(parts).encode())
            parts, size = [], 0
    handle.write("".join(parts).encode())


def write(result: ScanResult, handle: IO[bytes]) -> None:
    write_view(result, build_view(result), handle)


def render(result: ScanResult) -> bytes:
    out = io.BytesIO()
    write(result, out)
    return out.getvalue()
