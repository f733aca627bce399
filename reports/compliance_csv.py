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
import itertools
from collections import defaultdict
from collections.abc import Iterator
from typing import IO

from reports.csv_report import line, record, write_lines
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


def lines(result: ScanResult) -> Iterator[str]:
    """Every record after the header, in a stable order: framework, control, then worst finding first.

    A finding is in a row of every control its check maps to (about 18 at 100,000 resources, so
    millions of rows): its cells are made and quoted once (`_Tails`), and each row is its
    control's record joined to them."""
    tails = _Tails(result)
    for framework in result.frameworks:
        for control in framework.controls:
            head = record(_control_cells(framework, control))[:-2] + ","
            attested = attestation_reference(control)
            emitted = False
            for check_id in control.check_ids:
                for tail in tails.of(check_id):
                    emitted = True
                    yield head + tail
            if attested or not emitted:
                message = control.manual_evidence if control.status == "manual" else control.reason
                yield head + record(["", "", "", "", "", "", "", "", "", "", message or "", attested])


class _Tails:
    """The finding cells of each check's rows (after the control's), as quoted CSV text ending the
    record, worst finding first; made the first time a control asks for the check."""

    def __init__(self, result: ScanResult) -> None:
        self.by_check: dict[str, list[Finding]] = defaultdict(list)
        for finding in sorted(result.findings, key=finding_order):
            self.by_check[finding.check_id].append(finding)
        self.made: dict[str, list[str]] = {}
        self.deployments = DeploymentIndex(result.postures)
        self.names = result.scope.subscription_names

    def of(self, check_id: str) -> list[str]:
        made = self.made.get(check_id)
        if made is None:
            made = self.made[check_id] = [record(self._cells(f)) for f in self.by_check.get(check_id, ())]
        return made

    def _cells(self, finding: Finding) -> list[str]:
        subscription = finding.subscription_id or ""
        return [
            finding.check_id,
            finding.severity.value,
            finding_status(finding),
            finding.resource_id,
            display_name(finding),
            subscription,
            self.names.get(subscription.lower(), ""),
            resource_group_of(finding.resource_id) or "",
            finding.location or "",
            "; ".join(self.deployments.of(finding)),
            finding.message,
            finding.waived_by or ("baseline" if finding.baselined else ""),
        ]


def write(result: ScanResult, handle: IO[bytes]) -> None:
    """Stream the CSV to a binary handle, a few thousand rows at a time."""
    write_lines(handle, itertools.chain([line(list(COLUMNS))], lines(result)))


def render(result: ScanResult) -> bytes:
    out = io.BytesIO()
    write(result, out)
    return out.getvalue()
