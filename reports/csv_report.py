"""CSV: one row per finding, for spreadsheets and ticket imports.

Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab or
carriage return) as a formula, so such cells get a leading `'` (OWASP's CSV-injection advice).
Resource names and messages come from the scanned estate, which an attacker may control.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Sequence
from typing import IO

from reports.digest import evidence_value, finding_order
from reports.names import DeploymentIndex, resource_group_of
from scanner.models import Evidence, Finding, ScanResult, Severity, Status

COLUMNS: tuple[str, ...] = (
    "severity",
    "status",
    "check_id",
    "title",
    "resource_name",
    "resource_type",
    "resource_id",
    "subscription_id",
    "resource_group",
    "location",
    "deployments",
    "detail_key",
    "message",
    "evidence",
    "remediation",
    "az_cli",
    "azure_policy",
    "pillar",
    "tags",
    "waived_by",
    "baselined",
    "fingerprint",
    "changed_by",
    "changed_at",
    "change_client",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_START)


def safe(value: str) -> str:
    """Neutralise a cell a spreadsheet would otherwise evaluate as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def safe_row(cells: list[str]) -> list[str]:
    """`safe` on every cell, without a call per cell (a large estate has millions of cells)."""
    return ["'" + cell if cell[:1] in _FORMULA_FIRST else cell for cell in cells]


_FLUSH_EVERY = 2000


def write(result: ScanResult, handle: IO[bytes]) -> None:
    """Stream the CSV to a binary handle, a few thousand rows at a time."""
    rows = _Rows(DeploymentIndex(result.postures))
    write_rows(handle, COLUMNS, map(rows.row, sorted(result.findings, key=finding_order)))


def write_rows(handle: IO[bytes], columns: Sequence[str], rows: Iterable[list[str]]) -> None:
    """CSV with CRLF line ends, every cell formula-neutralised, written a few thousand rows at a time."""
    write_lines(handle, itertools.chain([line(list(columns))], map(record, rows)))


def write_lines(handle: IO[bytes], lines: Iterable[str]) -> None:
    """Records made by `line`, written a few thousand at a time."""
    held: list[str] = []
    for count, record in enumerate(lines, start=1):
        held.append(record)
        if count % _FLUSH_EVERY == 0:
            handle.write("".join(held).encode())
            held.clear()
    handle.write("".join(held).encode())


def line(cells: list[str]) -> str:
    """One CSV record as `csv.writer` makes it (RFC 4180, minimal quoting, CRLF), at a seventh of its
    cost: the standard writer copies every character of 340,000 rows one by one (5 s at 100,000
    resources), while most rows hold no comma, quote or line break, which four scans of the joined
    row rule out; only the rows that have one are quoted cell by cell."""
    joined = ",".join(cells)
    if _bare(joined, cells):
        return _ended(joined, cells)
    return ",".join(map(_quoted, cells)) + "\r\n"


def record(cells: list[str]) -> str:
    """`line(safe_row(cells))`, at a fraction of its cost: in a row whose commas are all delimiters, a
    cell starts where the row does or right after a comma, so a few scans of the joined row find
    whether any cell needs a `'` (or quotes); only a row that does is handled cell by cell."""
    joined = ",".join(cells)
    if _bare(joined, cells) and joined[:1] not in _FORMULA_FIRST and not any(s in joined for s in _FORMULA_AFTER):
        return _ended(joined, cells)
    return line(safe_row(cells))


_FORMULA_AFTER = tuple("," + start for start in _FORMULA_START if start != "\r")
"""A delimiter followed by a formula start (a carriage return is ruled out by `_bare`)."""


def _bare(joined: str, cells: list[str]) -> bool:
    """Whether `cells`, joined by commas, hold no comma, quote or line break of their own."""
    return joined.count(",") == len(cells) - 1 and '"' not in joined and "\n" not in joined and "\r" not in joined


def _ended(joined: str, cells: list[str]) -> str:
    """The record of bare cells; a lone empty cell is written `""`, as `csv.writer` does."""
    return joined + "\r\n" if joined or len(cells) != 1 else '""\r\n'


def _quoted(cell: str) -> str:
    """A cell in double quotes (inner quotes doubled) when it holds a comma, quote or line break."""
    if "," in cell or '"' in cell or "\n" in cell or "\r" in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def render(result: ScanResult) -> bytes:
    out = io.BytesIO()
    write(result, out)
    return out.getvalue()


class _Rows:
    """Makes each finding's cells. At 100,000 resources there are 340,000 rows but only a few
    thousand distinct resources, checks and evidence items: what depends on those alone (resource
    group, deployments, remediation and tag cells, each evidence item's text) is worked out once."""

    def __init__(self, deployments: DeploymentIndex) -> None:
        self.deployments = deployments
        self.places: dict[str, tuple[str, str]] = {}
        """resource id -> (lower-cased id, resource group)."""
        self.served: dict[tuple[str, str | None], str] = {}
        self.fixes: dict[int, tuple[object, str, str, str]] = {}
        """id(remediation) -> (it, kept alive while its id is a key; text; az_cli; azure_policy)."""
        self.tags: dict[tuple[str, ...], str] = {}
        self.evidence: dict[int, tuple[object, str]] = {}
        """id(evidence item) -> (it, kept alive while its id is a key; `path = value`)."""

    def row(self, finding: Finding) -> list[str]:
        resource_id = finding.resource_id
        place = self.places.get(resource_id)
        if place is None:
            place = self.places[resource_id] = (resource_id.lower(), resource_group_of(resource_id) or "")
        detail = finding.detail_key
        served = self.served.get((place[0], detail))
        if served is None:
            served = self.served[place[0], detail] = "; ".join(self.deployments.of_key(place[0], detail))
        remediation = finding.remediation
        fix = ("", "", "")
        if remediation is not None:
            known = self.fixes.get(id(remediation))
            if known is None:
                known = self.fixes[id(remediation)] = (
                    remediation,
                    remediation.text,
                    remediation.az_cli or "",
                    " ".join(remediation.azure_policy),
                )
            fix = known[1:]
        tags = self.tags.get(finding.tags)
        if tags is None:
            tags = self.tags[finding.tags] = " ".join(finding.tags)
        change = finding.change
        return [
            _TEXT[finding.severity],
            _TEXT[finding.status],
            finding.check_id,
            finding.title,
            finding.resource_name,
            finding.resource_type,
            resource_id,
            finding.subscription_id or "",
            place[1],
            finding.location or "",
            served,
            detail or "",
            finding.message,
            "; ".join(map(self._evidence, finding.evidence)),
            *fix,
            finding.pillar,
            tags,
            finding.waived_by or "",
            "yes" if finding.baselined else "",
            finding.fingerprint,
            (change.changed_by or "") if change else "",
            change.time.isoformat(timespec="seconds") if change else "",
            (change.client_type or "") if change else "",
        ]

    def _evidence(self, item: Evidence) -> str:
        known = self.evidence.get(id(item))
        if known is None:
            known = self.evidence[id(item)] = (item, f"{item.path} = {evidence_value(item.value)}")
        return known[1]


_TEXT: dict[str, str] = {**{s: s.value for s in Severity}, **{s: s.value for s in Status}}
"""A severity's or status's cell (a plain string, as a finding built without validation may hold, finds the same)."""
