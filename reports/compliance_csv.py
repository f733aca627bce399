"""Compliance CSV: one row per framework x control x finding, so an auditor can filter by control.

"Every resource failing 164.312(a)(2)(iv)" is one filter on `control_id` and `finding_status`.
Passing, waived and unassessed findings get rows too (auditors test both ways); a control with
no finding behind it (manual, attested, or nothing evaluated) gets one row of its own, so every
control of every framework appears. On a large estate this is millions of rows, so it is
written row by row to a file handle; `render` exists for callers that want bytes.
Cells are formula-neutralised like the findings CSV: names and messages come from the estate.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from typing import IO

from reports.csv_report import write_rows
from reports.digest import finding_order
from reports.names import DeploymentIndex, attestation_reference, display_name, resource_group_of
from scanner.models import ControlResult, Finding, FrameworkResult, ScanResult

COLUMNS: tuple[str, ...] = (
    "framework_id",
    "control_id",
    "control_title",
    "level",
    "strength",
    "control_status",
    "check_id",
    "severity",
    "finding_status",
    "resource_id",
    "resource_name",
    "subscription_id",
    "subscription_name",
    "resource_group",
    "location",
    "deployments",
    "message",
    "reference",
)
_FLUSH_EVERY = 2000


def finding_status(finding: Finding) -> str:
    """The finding's status as the control sees it: a waived failure is accepted risk, not a failure."""
    return "waived" if finding.waived_by else finding.status.value


def _control_cells(framework: FrameworkResult, control: ControlResult) -> list[str]:
    return [
        framework.id,
        control.control_id,
        control.title,
        control.level or "",
        control.strength or "",
        str(control.status),
    ]


def rows(result: ScanResult) -> Iterator[list[str]]:
    """Every row after the header, in a stable order: framework, control, then worst finding first."""
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for finding in sorted(result.findings, key=finding_order):
        by_check[finding.check_id].append(finding)
    deployments = DeploymentIndex(result.postures)
    names = result.scope.subscription_names
    for framework in result.frameworks:
        for control in framework.controls:
            head = _control_cells(framework, control)
            attested = attestation_reference(control)
            emitted = False
            for check_id in control.check_ids:
                for finding in by_check.get(check_id, ()):
                    emitted = True
                    subscription = finding.subscription_id or ""
                    reference = finding.waived_by or ("baseline" if finding.baselined else "")
                    yield [
                        *head,
                        finding.check_id,
                        finding.severity.value,
                        finding_status(finding),
                        finding.resource_id,
                        display_name(finding),
                        subscription,
                        names.get(subscription.lower(), ""),
                        resource_group_of(finding.resource_id) or "",
                        finding.location or "",
                        "; ".join(deployments.of(finding)),
                        finding.message,
                        reference,
                    ]
            if attested or not emitted:
                message = control.manual_evidence if control.status == "manual" else control.reason
                yield [*head, "", "", "", "", "", "", "", "", "", "", message or "", attested]


def write(result: ScanResult, handle: IO[bytes]) -> None:
    """Stream the CSV to a binary handle, a few thousand rows at a time."""
    write_rows(handle, COLUMNS, rows(result))


def render(result: ScanResult) -> bytes:
    out = io.BytesIO()
    write(result, out)
    return out.getvalue()
