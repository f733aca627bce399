"""CSV: one row per finding, for spreadsheets and ticket imports.

Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab or
carriage return) as a formula, so such cells get a leading `'` (OWASP's CSV-injection advice).
Resource names and messages come from the scanned estate, which an attacker may control.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import IO

from reports.digest import evidence_value, finding_order
from reports.names import DeploymentIndex, resource_group_of
from scanner.models import Finding, ScanResult

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
    deployments = DeploymentIndex(result.postures)
    write_rows(handle, COLUMNS, (_row(f, deployments) for f in sorted(result.findings, key=finding_order)))


def write_rows(handle: IO[bytes], columns: Sequence[str], rows: Iterable[list[str]]) -> None:
    """CSV with CRLF line ends, every cell formula-neutralised, flushed a few thousand rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for count, row in enumerate(rows, start=1):
        writer.writerow(safe_row(row))
        if count % _FLUSH_EVERY == 0:
            handle.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    handle.write(buffer.getvalue().encode())


def render(result: ScanResult) -> bytes:
    out = io.BytesIO()
    write(result, out)
    return out.getvalue()


def _row(finding: Finding, deployments: DeploymentIndex) -> list[str]:
    remediation = finding.remediation
    return [
        finding.severity.value,
        finding.status.value,
        finding.check_id,
        finding.title,
        finding.resource_name,
        finding.resource_type,
        finding.resource_id,
        finding.subscription_id or "",
        resource_group_of(finding.resource_id) or "",
        finding.location or "",
        "; ".join(deployments.of(finding)),
        finding.detail_key or "",
        finding.message,
        "; ".join(f"{item.path} = {evidence_value(item.value)}" for item in finding.evidence),
        remediation.text if remediation else "",
        (remediation.az_cli or "") if remediation else "",
        " ".join(remediation.azure_policy) if remediation else "",
        finding.pillar,
        " ".join(finding.tags),
        finding.waived_by or "",
        "yes" if finding.baselined else "",
        finding.fingerprint,
        (finding.change.changed_by or "") if finding.change else "",
        finding.change.time.isoformat(timespec="seconds") if finding.change else "",
        (finding.change.client_type or "") if finding.change else "",
    ]
