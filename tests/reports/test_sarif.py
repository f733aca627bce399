"""SARIF output must satisfy the official 2.1.0 schema and carry what code-scanning UIs rely on."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from reports import sarif
from scanner.models import ScanResult, Status
from tests.reports.conftest import FORMULA_NAME, SCHEMAS, WORKSPACE


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


def _log(result: ScanResult, **options: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(sarif.render(result, **options))
    return document


def test_log_validates_against_the_official_schema(result: ScanResult, validator: jsonschema.Draft4Validator) -> None:
    validator.validate(_log(result))
    validator.validate(_log(result, include_unknown=False))


def test_vendored_schema_catches_a_broken_log(result: ScanResult, validator: jsonschema.Draft4Validator) -> None:
    log = _log(result)
    log["runs"][0]["results"][0]["level"] = "critical"
    assert not validator.is_valid(log)


def test_one_rule_per_check_with_severity_tags_and_remediation(result: ScanResult) -> None:
    run = _log(result)["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert run["tool"]["driver"]["name"] == "mlwarden"
    assert set(rules) == {meta.id for meta in result.checks}
    workspace_rule = rules["MLW-WS-001"]
    assert float(workspace_rule["properties"]["security-severity"]) == 8.0
    assert "private-network" in workspace_rule["properties"]["tags"]
    assert "438c38d2-3772-465a-a9cc-7a6666a275ce" in workspace_rule["help"]["text"]
    assert "--public-network-access Disabled" in workspace_rule["help"]["markdown"]
    assert workspace_rule["helpUri"].startswith("https://learn.microsoft.com/")
    assert float(rules["MLW-ST-002"]["properties"]["security-severity"]) >= 9.0


def test_results_point_at_the_resource_and_rule(result: ScanResult) -> None:
    run = _log(result)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    by_key = {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]): r for r in run["results"]}
    workspace = by_key[("MLW-WS-001", WORKSPACE)]
    assert workspace["level"] == "error"
    assert rules[workspace["ruleIndex"]]["id"] == "MLW-WS-001"
    assert workspace["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == WORKSPACE.lstrip("/")
    expected = next(f for f in result.findings if f.check_id == "MLW-WS-001").fingerprint
    assert workspace["partialFingerprints"] == {sarif.FINGERPRINT_KEY: expected}
    assert {"path": "properties.publicNetworkAccess", "value": "Enabled"} in workspace["properties"]["evidence"]


def test_levels_follow_severity_and_status(result: ScanResult) -> None:
    results = _log(result)["runs"][0]["results"]
    levels = {(r["ruleId"], r["properties"]["status"]): r["level"] for r in results}
    assert levels[("MLW-WS-003", "fail")] == "warning"  # medium
    assert levels[("MLW-APP-001", "fail")] == "warning"  # low
    assert levels[("MLW-APP-004", "unknown")] == "note"
    assert levels[("MLW-DEF-001", "error")] == "note"
    assert all(r["properties"]["status"] not in {"pass", "not_applicable"} for r in results)


def test_unknown_and_error_can_be_left_out(result: ScanResult) -> None:
    statuses = {r["properties"]["status"] for r in _log(result, include_unknown=False)["runs"][0]["results"]}
    assert statuses == {Status.FAIL.value}


def test_waived_finding_is_a_suppressed_result_and_baselined_is_unchanged(result: ScanResult) -> None:
    results = _log(result)["runs"][0]["results"]
    waived = [r for r in results if "suppressions" in r]
    assert [r["ruleId"] for r in waived] == ["MLW-ST-002"]
    assert waived[0]["suppressions"][0]["status"] == "accepted"
    assert "WAIVER-42" in waived[0]["suppressions"][0]["justification"]
    states = {r["locations"][0]["logicalLocations"][0]["name"]: r["baselineState"] for r in results}
    assert states[FORMULA_NAME] == "unchanged"
    assert states["mlw-claims"] == "new"
    assert sum(1 for r in results if r["baselineState"] == "unchanged") == 1


def test_coverage_gaps_become_invocation_warnings(result: ScanResult) -> None:
    invocation = _log(result)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert "403 AuthorizationFailed" in notification["message"]["text"]


def test_same_input_same_bytes(result: ScanResult) -> None:
    assert sarif.render(result) == sarif.render(result.model_copy(update={"findings": result.findings[::-1]}))
