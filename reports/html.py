"""The auditor's report: one self-contained HTML file, and the same templates for the PDF.

The template only lays out what this module prepares, so every decision an auditor relies on
(what counts as failing, the order of evidence, what is a coverage gap) is made in Python,
where it is tested. jinja2 autoescape is forced on: names, messages and evidence come from the
scanned estate and are untrusted. The file has no script at all, and its Content-Security-Policy
forbids any, as a second line of defence. Two long, repetitive pieces of a large page (the compact
posture rows and the names of grouped findings) are written here in Python rather than by the
template, with markupsafe's `escape`, the function autoescape itself calls: at 100,000 resources
the template's cost per item was most of the page.

Every finding is listed once, under its check, with an anchor; controls and deployments link
to those anchors instead of repeating them, which keeps a 20,000-resource report small. Nothing
is dropped silently: when a list is too long to repeat at each control, the control says where
its findings are listed, and when a report is too large for per-finding evidence tables, it
says that the JSON and CSV reports carry them.
"""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

import jinja2
from markupsafe import Markup, escape

from reports import executive, posture_digest, visible
from reports.digest import SEVERITY_ORDER, checks_by_id, evidence_value, finding_order
from reports.executive import RISK_SEVERITIES
from reports.names import (
    DeploymentIndex,
    attestation_fields,
    deployment_name,
    display_name,
    framework_label,
    path_name,
    resource_group_of,
    shows_detail,
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
PRINT_ID_RUN = 24
"""Characters of an ARM id segment (between slashes) that the PDF's resource column holds on a line;
a longer one may break after each hyphen and dot, a GUID included (Unicode line breaking allows no
break between a hyphen and a digit, so `3f2c9a6e-5b1d-...` has almost no break of its own), and a
piece between them longer still may break anywhere."""
_ID_PIECES = re.compile(r"(?<=[-.])")
SUBSCRIPTIONS_LISTED = 10
"""Subscriptions the executive summary lists in its scope row; beyond it the row gives their count
and the list collapsed on screen, and the PDF lists them under Scope and method: 290 names were four
pages of the PDF's executive summary."""
LEVEL_LABELS = {"required": "Required (R)", "addressable": "Addressable (A)"}
STANDARD_LABEL = "Standard"
"""The R/A cell of a HIPAA standard that has implementation specifications: Appendix A flags those,
not the standard, and an empty cell read as a flag left out. One short word: a narrow print
column broke a longer label inside its words."""
LISTED = frozenset({Status.FAIL, Status.ERROR, Status.UNKNOWN})
_FLUSH_CHARS = 1 << 20
_COUNTED = ("failing", "waived", "passing", "unknown")
_STATUS_RANK = {Status.FAIL: 0, Status.ERROR: 1, Status.UNKNOWN: 2, Status.PASS: 3, Status.NOT_APPLICABLE: 4}

Media = Literal["screen", "print"]


class Item(NamedTuple):
    """One finding as the report lists it (a tuple: a large estate has a hundred thousand of them)."""

    finding: Finding
    name: str
    anchor: str
    deployments: tuple[str, ...]
    location: str
    """`subscription name · resource group` (the scope table pairs each name with its id)."""
    group: tuple[Severity, Status, bool, str]
    """(severity, status, waived, message): the compact listing's group."""


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


class PostureCell(NamedTuple):
    verdict: PillarVerdict
    links: tuple[Item, ...]


class PostureRow(NamedTuple):
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

    @property
    def spans(self) -> Markup:
        """Each item as `<span id=anchor>name</span>`, comma-separated: the one long list of a large
        page, written in Python rather than by the template item by item."""
        return Markup(", ".join(map(_SPAN, *_escaped(list(map(_ANCHOR, self.items)), list(map(_NAME, self.items))))))


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
        keys: list[tuple[Severity, Status, bool, str]] = list(map(_GROUP, self.items))
        first_seen = {key: rank for rank, key in enumerate(dict.fromkeys(keys))}
        if len(first_seen) == 1:
            return [MessageGroup(*keys[0], self.items)]
        # a stable sort of the positions by their group's rank: built-in loops, not one per item
        ranks = list(map(first_seen.__getitem__, keys))
        ordered = list(map(self.items.__getitem__, sorted(range(len(keys)), key=ranks.__getitem__)))
        sizes = Counter(ranks)
        groups: list[MessageGroup] = []
        start = 0
        for rank, key in enumerate(first_seen):
            groups.append(MessageGroup(*key, tuple(ordered[start : start + sizes[rank]])))
            start += sizes[rank]
        return groups


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
    posture_rows: Markup | None = None
    """The posture table's rows, written in Python, where verdicts only count their reasons."""
    posture_counts: posture_digest.PostureDigest | None = None
    """The summary PDF of a large estate: deployments counted, the worst listed (`postures` holds those)."""


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


_SPAN = '<span id="{}">{}</span>'.format
_NAME, _ANCHOR, _GROUP = itemgetter(1), itemgetter(2), itemgetter(5)
_SUBSCRIPTION_TYPE = "microsoft.resources/subscriptions"
_FIRST, _THIRD = itemgetter(0), itemgetter(2)
_NAME_KEY = itemgetter(0, 1)
_SEVERITY_KEY, _PASS_NAME = itemgetter(1), itemgetter(2)


@dataclass
class _CheckFindings:
    """What the report keeps of one check's findings: an Item for each one to act on (fail, error,
    unknown), only the name of each pass, only the count of the rest. On a large, mostly healthy
    estate passes are most findings, and an Item each would be a second copy of all of them."""

    first: Finding
    """The worst finding, for the title and severity of a check the catalog does not know."""
    items: list[Item] = field(default_factory=list)
    passing: list[str] = field(default_factory=list)
    """Names of the passes, in the order the report gives them (`_collect` sorts them)."""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTED, 0))
    not_applicable: int = 0

    def passing_names(self) -> list[str]:
        return self.passing


def _report_order(findings: tuple[Finding, ...]) -> list[tuple[int, Finding]]:
    """(input position, finding) for the first finding of each fingerprint in report order
    (`finding_order`; equal keys keep input order), in input order."""
    firsts: dict[str, tuple[int, Finding]] = {}
    kept = list(enumerate(findings))
    for entry in kept:
        prev = firsts.setdefault(entry[1].fingerprint, entry)
        if prev is not entry and finding_order(entry[1]) < finding_order(prev[1]):
            firsts[entry[1].fingerprint] = entry
    chosen = {id(entry) for entry in firsts.values()}
    return [entry for entry in kept if id(entry) in chosen]


@dataclass
class _Collected:
    by_check: dict[str, _CheckFindings]
    report_id: str
    severity_rows: tuple[tuple[str, int, int, int], ...]
    risky: dict[str, Finding] | None
    """`executive.risky_failures(result.failed())`, gathered by the same pass (None: not gathered)."""

    def items(self) -> dict[str, Item]:
        """Fingerprint -> Item of every finding listed (fail, error, unknown), for the links that need it."""
        return {item.finding.fingerprint: item for check in self.by_check.values() for item in check.items}


def _collect(result: ScanResult, deployments: DeploymentIndex, metas: dict[str, CheckMeta]) -> _Collected:
    """One pass over the findings (the first of each fingerprint), giving what sorting them all by
    `finding_order` and listing them in that order would: within one check and status that order is
    (resource id lower-cased, detail, input position), so each list sorts once by its own full key,
    and the pass keeps per finding only what the report shows. Names, resource groups and
    deployments are worked out once per resource, not once per finding. The same pass gathers the
    report id's lines and the severity table, which would otherwise each walk every finding again."""
    collected = _collect_pass(result, deployments, metas, None)
    if collected is None:  # two findings share a fingerprint (the first in report order is kept), or a NUL
        collected = _collect_pass(result, deployments, metas, _report_order(result.findings))
    assert collected is not None
    return collected


def _collect_pass(
    result: ScanResult,
    deployments: DeploymentIndex,
    metas: dict[str, CheckMeta],
    kept: list[tuple[int, Finding]] | None,
) -> _Collected | None:
    """`_collect` over every finding (`kept` None), None if two share a fingerprint or a sort field
    holds a NUL; or over `kept`, with tuple sort keys.

    Each finding is read once, here: on a large estate the findings are far apart in memory, and
    every further pass over them costs about as much as this one. Its fields are read from its
    `__dict__` (where pydantic keeps them): an attribute of a model goes through pydantic's
    `__getattr__` hook, which the interpreter cannot specialise, at several times the cost.

    The first pass reads them in the order they lie in memory (`_memory_order`), not the report's:
    the runner made them resource by resource, and the report order (severity, check) jumps between
    them, a cache miss at nearly every field (at 100,000 resources 0.42 s of field reads against
    0.07 s). Nothing it keeps depends on that order: every list is sorted by a full key whose last
    field is the input position, the counts are sums, and the risky failures are put back in input
    order at the end; `first` matters only for checks the catalog does not know, set by `_worst_first`."""
    findings = result.findings
    fingerprints: list[str] = []
    lines: list[str] = []
    """`fingerprint:status:waiver` per finding: what the report id hashes."""
    names = result.scope.subscription_names
    places: dict[tuple[str, str | None], str] = {}
    by_check: dict[str, _CheckFindings] = {}
    ordered_items: dict[str, list[tuple[str | tuple[int, int, str, str, str, str], int, Item]]] = {}
    """Per check, (sort key, input position, item): in the first pass the key is one string, the
    tuple's fields joined by NUL (faster to sort); a NUL inside a field would break that, so then the
    pass is rerun with the tuples."""
    text_keys = kept is None
    passes: dict[str, list[tuple[str, int, str, Finding, int]]] = {}
    paths: dict[str, list[Any]] = {}
    """resource id -> [lower-cased, path name, resource group, path name lower-cased, then, once one
    of its findings is listed: subscription id, location, deployments of its findings without a
    detail key]: worked out once per resource."""
    shows: dict[str | None, bool] = {None: False}
    """detail key -> whether the name carries it."""
    severities: dict[tuple[Severity, str], int] = defaultdict(int)
    risky: list[tuple[int, str, Finding]] = []
    """(input position, fingerprint, finding) of each open critical or high failure."""
    odd = False
    neg_rank = {severity: -severity.rank for severity in Severity}
    prefixes = {
        status: {level: f"{rank}{4 - level.rank}" for level in Severity} for status, rank in _STATUS_RANK.items()
    }
    """Status rank and severity as the first two characters of a text sort key."""
    status_pass, status_na, status_fail = Status.PASS, Status.NOT_APPLICABLE, Status.FAIL
    new_item = tuple.__new__
    check_id = ""
    check = _CheckFindings(first=findings[0]) if findings else None
    counts: dict[str, int] = {}
    listing: list[tuple[str | tuple[int, int, str, str, str, str], int, Item]] = []
    passing: list[tuple[str, int, str, Finding, int]] = []
    states: dict[str, tuple[_CheckFindings, dict[str, int], list[Any], list[Any]]] = {}
    """check id -> (its findings, counts, listing, passes): in memory order the check changes at
    nearly every finding, so what changes with it is one lookup."""
    order = _memory_order(findings) if kept is None else []
    for index, finding in zip(order, map(findings.__getitem__, order), strict=True) if kept is None else kept:
        fields = finding.__dict__
        status = fields["status"]
        fingerprint = fields["fingerprint"]
        waiver = fields["waived_by"]
        if kept is None:
            fingerprints.append(fingerprint)
            lines.append(f"{fingerprint}:{status}:{waiver or ''}\n")
        if fields["check_id"] != check_id:
            check_id = fields["check_id"]
            now = states.get(check_id)
            if now is None:
                found = by_check[check_id] = _CheckFindings(first=finding)
                ordered_items[check_id], passes[check_id] = [], []
                now = states[check_id] = (found, found.counts, ordered_items[check_id], passes[check_id])
            check, counts, listing, passing = now
        if status is status_na:
            assert check is not None
            check.not_applicable += 1
            continue
        resource_id = fields["resource_id"]
        known = paths.get(resource_id)
        if known is None:
            path = path_name(resource_id)
            known = paths[resource_id] = [resource_id.lower(), path, resource_group_of(resource_id), path.lower()]
        name = known[1]
        detail = fields["detail_key"]
        if name and detail is None and fields["resource_type"] != _SUBSCRIPTION_TYPE:
            lowered = known[3]
        else:
            name = name or fields["resource_name"]
            if fields["resource_type"] == _SUBSCRIPTION_TYPE:
                name = fields["resource_name"] or name
            shown = shows.get(detail)
            if shown is None:
                shown = shows[detail] = shows_detail(detail)
            if shown:
                name = f"{name}/{detail}"
            lowered = name.lower()
        if status is status_pass:
            passing.append((lowered, neg_rank[fields["severity"]], name, finding, index))
            continue
        if status is status_fail:
            counts["waived" if waiver else "failing"] += 1
            severities[fields["severity"], "waived" if waiver else "baselined" if fields["baselined"] else "open"] += 1
            if not waiver and fields["severity"] in RISK_SEVERITIES:
                risky.append((index, fingerprint, finding))
        elif status in (Status.UNKNOWN, Status.ERROR):
            counts["unknown"] += 1
        else:  # a status that is not a Status member: leave `failed()`'s own test to executive
            odd = True
        if status not in LISTED:
            continue
        sub = fields["subscription_id"] or ""
        if len(known) == 4:
            known += ("", "", deployments.of_key(known[0], None))
        if known[4] != sub or not known[5]:
            rg = known[2]
            where = places.get((sub, rg))
            if where is None:
                where = places[sub, rg] = names.get(sub.lower(), sub) + (f" · {rg}" if rg else "")
            known[4], known[5] = sub, where
        serves = known[6] if detail is None else deployments.of_key(known[0], detail)
        level = fields["severity"]
        first = serves[0] if serves else "\uffff"
        anchor = f"f{fingerprint[:12]}" if fingerprint else anchor_of(finding)
        group = (level, status, bool(waiver), fields["message"])
        item: Item = new_item(Item, (finding, name, anchor, serves, known[5], group))
        # equal keys keep input order (a stable sort), as the report order does
        if text_keys:
            key = f"{prefixes[status][level]}{first}\0{lowered}\0{known[0]}\0{detail or ''}"
            if key.count("\0") != 3:
                return None
            listing.append((key, index, item))
        else:
            listing.append(
                ((_STATUS_RANK[status], neg_rank[level], first, lowered, known[0], detail or ""), index, item)
            )
    unknown = [check_id for check_id in by_check if check_id not in metas]
    if unknown:
        _worst_first(by_check, unknown, findings if kept is None else (finding for _, finding in kept))
    for check_id, check in by_check.items():
        listed = ordered_items[check_id]
        listed.sort()  # by key, then input position (distinct): items are never compared
        check.items = list(map(_THIRD, listed))
        check.passing = _passing_order(passes[check_id], deployments)
        check.counts["passing"] = len(check.passing)
    if kept is None and len(set(fingerprints)) != len(findings):
        return None
    if kept is None and len(set(map(len, fingerprints))) <= 1:
        report_id, rows = executive.report_id_of(result, lines), _severity_table(severities)
        risky.sort(key=_FIRST)  # input order, as `risky_failures` gives them
        return _Collected(by_check, report_id, rows, None if odd else {fp: found for _, fp, found in risky})
    return _Collected(by_check, executive.report_id(result), _severity_rows(result), None)


def _memory_order(findings: tuple[Finding, ...]) -> list[int]:
    """The findings' positions in the order the findings lie in memory (by address: `id`, which
    reads nothing of them)."""
    addresses = list(map(id, findings))
    return sorted(range(len(addresses)), key=addresses.__getitem__)


def _worst_first(by_check: dict[str, _CheckFindings], check_ids: list[str], findings: Iterable[Finding]) -> None:
    """`first` for checks the catalog does not know (their section takes its title from it): the
    first in report order, which leads with status and severity; equal keys keep input order."""
    candidates: dict[str, list[Finding]] = {check_id: [] for check_id in check_ids}
    for finding in findings:
        found = candidates.get(finding.check_id)
        if found is not None:
            found.append(finding)
    for check_id, found in candidates.items():
        by_check[check_id].first = min(found, key=finding_order)


def _passing_order(entries: list[tuple[str, int, str, Finding, int]], deployments: DeploymentIndex) -> list[str]:
    """Pass names by (lower-cased name, -severity, first deployment, report order); the deployments
    are looked up only where name and severity tie, which on most estates is nowhere."""
    if len(set(map(_SEVERITY_KEY, entries))) <= 1:  # one severity (the usual case): sort by name alone
        entries.sort(key=_FIRST)
        if len(set(map(_FIRST, entries))) == len(entries):
            return list(map(_PASS_NAME, entries))
    else:
        entries.sort(key=_NAME_KEY)
        if len(set(map(_NAME_KEY, entries))) == len(entries):
            return list(map(_PASS_NAME, entries))
    start = 0
    while start < len(entries):
        end = start + 1
        while end < len(entries) and entries[end][:2] == entries[start][:2]:
            end += 1
        if end - start > 1:
            entries[start:end] = sorted(entries[start:end], key=lambda e: _tie_key(e, deployments))
        start = end
    return [entry[2] for entry in entries]


def _tie_key(entry: tuple[str, int, str, Finding, int], deployments: DeploymentIndex) -> tuple[str, str, str, int]:
    finding = entry[3]
    serves = deployments.of(finding)
    return (serves[0] if serves else "\uffff", finding.resource_id.lower(), finding.detail_key or "", entry[4])


def build_view(result: ScanResult, media: Media = "screen", detail: Literal["summary", "full"] = "full") -> ReportView:
    """Everything the template shows, already ordered and aggregated."""
    names = result.scope.subscription_names
    metas = checks_by_id(result)
    collected = _collect(result, DeploymentIndex(result.postures), metas)
    by_check = collected.by_check
    links = sum(len(c.failing) + c.passing_count for fw in result.frameworks for c in fw.controls)
    listed = media == "screen" and links <= LINK_BUDGET
    sections = _sections(by_check, metas)
    lines = {check_id: _check_line(check_id, check, metas) for check_id, check in by_check.items()}
    judged = {verdict.pillar for posture in result.postures for verdict in posture.pillars}
    pillars = POSTURE_PILLARS + tuple(sorted(judged - set(POSTURE_PILLARS)))
    evidence = media == "screen" and sum(len(s.items) for s in sections) <= EVIDENCE_BUDGET
    counted = (media == "print" and detail == "summary") or (media == "screen" and not evidence)
    """Verdicts show their reasons' count and no links (the template's test for the same)."""
    items = collected.items() if listed or not (counted or media == "print") else {}
    linked = {} if counted or media == "print" else items
    digest = None
    shown: Iterable[DeploymentPosture] = result.postures
    if media == "print" and detail == "summary" and posture_digest.needed(result.postures):
        labels = {p.subscription_id: subscription_label(p.subscription_id, names) for p in result.postures}
        digest = posture_digest.digest(result.postures, pillars, result.findings, labels)
        shown = digest.worst
    postures = tuple(_posture_row(p, pillars, linked, names) for p in shown)
    return ReportView(
        media=media,
        detail=detail,
        evidence=evidence,
        summary=executive.summarize(result, collected.report_id, collected.risky),
        severity_rows=collected.severity_rows,
        pillars=pillars,
        postures=postures,
        posture_rows=_posture_rows(postures) if counted and postures else None,
        posture_counts=digest,
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
    return _severity_table(counts)


def _severity_table(counts: dict[tuple[Severity, str], int]) -> tuple[tuple[str, int, int, int], ...]:
    return tuple(
        (severity.value, counts[severity, "open"], counts[severity, "waived"], counts[severity, "baselined"])
        for severity in SEVERITY_ORDER
    )


def _posture_row(
    posture: DeploymentPosture, pillars: tuple[str, ...], items: dict[str, Item], names: dict[str, str]
) -> PostureRow:
    cells: dict[str, PostureCell] = {}
    for verdict in posture.pillars:
        linked = sorted((items[fp] for fp in verdict.failing if fp in items), key=item_order) if items else ()
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
                {name for check_id in control.check_ids if check_id in by_check for name in by_check[check_id].passing}
            )
        rows.append(
            ControlRow(
                control=control,
                level_label=LEVEL_LABELS.get(level, control.level or "") or _standard_label(control),
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


def _escaped(*columns: list[str]) -> list[list[str]]:
    """Each column written as the template writes each value (`visible.marked`); a batch of plain
    text with nothing to escape (the usual case) is returned as is after one check of its joined text."""
    joined = "".join("".join(column) for column in columns)
    longest = max((max(map(len, column), default=0) for column in columns), default=0)
    if (
        longest <= visible.TEXT_LIMIT
        and len(escape(joined)) == len(joined)
        and visible.marked(joined, bound=False) == joined
    ):
        return list(columns)
    return [list(map(visible.marked, column)) for column in columns]


def _posture_rows(postures: tuple[PostureRow, ...]) -> Markup:
    """The posture table's rows where each verdict shows only its reasons' count (the summary PDF,
    and an HTML page too large for evidence), as the template's loop would write them."""
    cells: dict[tuple[str, int] | None, str] = {None: '<td><span class="muted">not judged</span></td>'}
    """(verdict, reasons) -> the cell: a large estate has a handful of distinct cells."""
    names, kinds, subscriptions = _escaped(
        [row.name for row in postures], [row.posture.kind for row in postures], [row.subscription for row in postures]
    )
    rows = []
    for row, name, kind, subscription in zip(postures, names, kinds, subscriptions, strict=True):
        line = [f'<tr>\n<td><strong>{name}</strong><br><span class="muted">{kind} · {subscription}</span></td>']
        for cell in row.cells:
            key = None if cell is None else (cell.verdict.status, len(cell.verdict.reasons))
            text = cells.get(key)
            if text is None and key is not None:
                status = escape(key[0])
                counted = f' <span class="muted">{key[1]} reason(s)</span>' if key[1] else ""
                text = cells[key] = f'<td><span class="badge s-{status}">{status}</span>{counted}</td>'
            line.append(text or "")
        rows.append("\n".join(line) + "\n</tr>")
    return Markup("\n".join(rows))


def wrap_id(value: str) -> Markup:
    """An ARM id that may break after each '/', so tables never hard-wrap it mid-name."""
    return Markup("/<wbr>").join(Markup(visible.marked(part)) for part in value.split("/"))


def print_id(value: str) -> Markup:
    """An ARM id for the PDF, in `code.arm`, which breaks lines only after a `/` or a hyphen. WeasyPrint
    breaks text that may break anywhere as soon as the line is full, `<wbr>` or not, so in a narrow
    cell `resourceGroups` came out as `resourceGr` / `oups`. Only a segment too long for the cell
    (`Microsoft.MachineLearningServices`, a subscription GUID) may still break anywhere (`span.long`),
    or it would overflow into the next column."""
    return Markup("/<wbr>").join(Markup(_print_segment(part)) for part in value.split("/"))


def _print_segment(part: str) -> str:
    """A segment too long for the cell may break after each hyphen or dot (a GUID's `4e81-`, whose
    digits after the hyphen forbid a break there by Unicode's rules; `Microsoft.`): it came out as
    `2c3f-4` / `e81` and `Microsoft.ContainerR` / `egistry`. Only a piece still too long breaks anywhere."""
    if len(part) <= PRINT_ID_RUN:
        return visible.marked(part)
    return "<wbr>".join(_print_piece(piece) for piece in _ID_PIECES.split(part))


def _print_piece(piece: str) -> str:
    shown = visible.marked(piece)
    return f'<span class="long">{shown}</span>' if len(piece) > PRINT_ID_RUN else shown


_PATH_BREAKS = re.compile(r"(?<=[/.])|(?=\[)")
_LINKED_VALUE = re.compile(r"^(?:/|[a-z][a-z0-9+.-]*://)", re.IGNORECASE)


def path_html(value: str) -> Markup:
    """An evidence path or ARM id in a narrow cell: it may break after each `/` and `.` and before
    each `[` (`ipRules` / `[0].value` keeps the subscript whole); a piece too long for the cell also
    inside it (`_path_piece`). The breaks are `<wbr>`, which puts
    no character in the PDF's text (U+200B would be copied into every path an auditor pastes or
    searches for); `span.path` keeps WeasyPrint from breaking the rest mid-word, as `code.arm` does
    for ARM ids. A value beyond `visible.TEXT_LIMIT` is left to `visible.marked`, which cuts it."""
    if len(value) > visible.TEXT_LIMIT:
        return Markup(visible.marked(value))
    pieces = (_path_piece(piece) for piece in _PATH_BREAKS.split(value) if piece)
    return Markup(f'<span class="path">{"<wbr>".join(pieces)}</span>')


_WORD_BREAKS = re.compile(r"(?<=[-_])|(?<=[a-z0-9])(?=[A-Z])")


def _path_piece(piece: str) -> str:
    """A piece too long for the cell breaks after a hyphen (a GUID) or underscore, or between the words of a
    camelCase name (`azureAD` / `AuthenticationAsArmPolicy.`); only a word longer still anywhere."""
    if len(piece) <= PRINT_ID_RUN:
        return visible.marked(piece)
    return "<wbr>".join(_print_piece(word) for word in _WORD_BREAKS.split(piece) if word)


def evidence_html(value: object) -> str | Markup:
    """An evidence value as text; an ARM id or URL (a Key Vault key id, a portal link) breaks as a path does."""
    text = evidence_value(value)
    return path_html(text) if isinstance(value, str) and _LINKED_VALUE.match(text) else text


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=visible.shown_html,
    )
    environment.filters["join"] = visible.joined
    environment.filters["prose"] = visible.prose_html
    environment.filters["plain"] = lambda value: escape(visible.plain(str(value)))
    environment.filters["evidence"] = evidence_value
    environment.filters["wrap_id"] = wrap_id
    environment.filters["print_id"] = print_id
    environment.filters["path"] = path_html
    environment.filters["evidence_html"] = evidence_html
    environment.filters["when"] = when
    environment.filters["anchor"] = anchor_of
    environment.filters["rname"] = display_name
    environment.globals["categories"] = executive.CATEGORIES
    environment.globals["known"] = [status for status, _ in executive.CATEGORIES]
    environment.globals["risk_lines"] = RISK_LINES
    environment.globals["subscriptions_listed"] = SUBSCRIPTIONS_LISTED
    return environment


_ENVIRONMENT = _environment()


def _standard_label(control: ControlResult) -> str:
    return STANDARD_LABEL if control.kind == "standard" else ""


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
