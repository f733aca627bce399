"""Compliance CSV: one row per framework x control x finding, filterable by control, formula-safe."""

from __future__ import annotations

import csv
import io

from reports import FILENAMES, compliance_csv
from scanner.models import ScanResult, ScanScope
from tests.reports.conftest import FORMULA_NAME, SUB, WORKSPACE

HEADER = (
    "framework_id,control_id,control_title,level,strength,control_status,check_id,severity,finding_status,"
    "resource_id,resource_name,subscription_id,subscription_name,resource_group,location,deployments,message,reference"
)


def _rows(result: ScanResult) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(compliance_csv.render(result).decode(), newline="")))


def test_header_is_exactly_the_published_one(result: ScanResult) -> None:
    assert compliance_csv.render(result).decode().splitlines()[0] == HEADER
    assert FILENAMES["compliance-csv"] == "mlwarden-compliance.csv"


def test_every_resource_failing_a_control_is_one_filter_away(result: ScanResult) -> None:
    rows = _rows(result)
    failing = [r for r in rows if r["control_id"] == "164.312(a)(2)(iv)" and r["finding_status"] == "fail"]
    assert [r["resource_id"] for r in failing] == [WORKSPACE]
    row = failing[0]
    assert (row["framework_id"], row["level"], row["strength"], row["control_status"]) == (
        "hipaa-security-rule",
        "addressable",
        "direct",
        "fail",
    )
    assert (row["check_id"], row["severity"], row["resource_name"]) == ("MLW-WS-003", "medium", "mlw-claims")
    assert (row["subscription_id"], row["resource_group"]) == (SUB, "rg-ml-prod")
    assert row["deployments"] == "mlw-claims/ep-triage/blue"
    assert row["message"] == "encryption uses Microsoft-managed keys"


def test_rows_cover_every_control_and_finding_including_passing_and_waived(result: ScanResult) -> None:
    rows = _rows(result)
    by_control: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        by_control.setdefault((row["framework_id"], row["control_id"]), []).append(row)
    for framework in result.frameworks:
        for control in framework.controls:
            expected = sum(1 for f in result.findings if f.check_id in control.check_ids)
            assert len(by_control[(framework.id, control.control_id)]) == max(expected, 1)
    tls = {r["finding_status"] for r in by_control[("hipaa-security-rule", "164.312(e)(2)(ii)")]}
    assert {"pass", "fail"} <= tls
    manual = by_control[("gdpr", "Art. 35")]
    assert manual[0]["control_status"] == "manual" and manual[0]["check_id"] == ""
    assert manual[0]["message"] == "The DPIA covering the triage model and its approval"


def test_waived_findings_name_their_waiver(result: ScanResult) -> None:
    framework = result.frameworks[0]
    control = framework.controls[1].model_copy(update={"check_ids": ("MLW-ST-002",)})
    changed = result.model_copy(update={"frameworks": (framework.model_copy(update={"controls": (control,)}),)})
    (row,) = _rows(changed)
    assert row["finding_status"] == "waived"
    assert row["reference"].startswith("WAIVER-42")


def test_subscription_names_come_from_the_scope(result: ScanResult) -> None:
    scope = ScanScope(**{**result.scope.model_dump(), "subscription_names": {SUB: "Claims Production"}})
    rows = _rows(result.model_copy(update={"scope": scope}))
    assert {r["subscription_name"] for r in rows if r["subscription_id"] == SUB} == {"Claims Production"}


def test_formula_cells_are_neutralised(result: ScanResult) -> None:
    hostile = tuple(f.model_copy(update={"message": FORMULA_NAME}) for f in result.findings)
    messages = {row["message"] for row in _rows(result.model_copy(update={"findings": hostile})) if row["check_id"]}
    assert messages == {"'" + FORMULA_NAME}


def test_streamed_bytes_equal_rendered_bytes_and_are_stable(result: ScanResult) -> None:
    handle = io.BytesIO()
    compliance_csv.write(result, handle)
    assert handle.getvalue() == compliance_csv.render(result)
    assert compliance_csv.render(result) == compliance_csv.render(
        result.model_copy(update={"findings": result.findings[::-1]})
    )


def test_large_results_stream_in_chunks(large_result: ScanResult) -> None:
    class Counting(io.BytesIO):
        writes = 0

        def write(self, data: bytes) -> int:  # type: ignore[override]
            Counting.writes += 1
            return super().write(data)

    handle = Counting()
    framework = large_result.frameworks[0].model_copy(
        update={"controls": (large_result.frameworks[0].controls[0].model_copy(update={"check_ids": ("MLW-KV-001",)}),)}
    )
    compliance_csv.write(large_result.model_copy(update={"frameworks": (framework,)}), handle)
    assert handle.getvalue().count(b"\r\n") == 100_001
    assert Counting.writes > 10
