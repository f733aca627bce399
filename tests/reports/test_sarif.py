"""SARIF: valid against the official 2.1.0 schema, within GitHub's limits at any scale, nothing left out silently."""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from reports import sarif
from reports.azure_policy import POLICY_NAMES
from reports.options import RenderOptions, render
from scanner.cli import cli
from scanner.models import Finding, ScanResult, Severity, Status
from scanner.registry import load_checks
from tests.reports.conftest import FORMULA_NAME, SCHEMAS, WORKSPACE, arm_id, finding, scan_result

GITHUB_GZIP_LIMIT = 10 * 1000 * 1000
ALL = RenderOptions(sarif_include=frozenset({"unknown", "waived", "baselined"}))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


def _log(result: ScanResult, options: RenderOptions | None = None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(sarif.render(result, options))
    return document


def _left_out(log: dict[str, Any]) -> dict[str, Any]:
    notifications = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    (note,) = [n for n in notifications if n["descriptor"]["id"] == "mlwarden/results-left-out"]
    return note


def _key(result: dict[str, Any]) -> tuple[str, str]:
    return result["ruleId"], result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]


def test_log_validates_against_the_official_schema(result: ScanResult, validator: jsonschema.Draft4Validator) -> None:
    validator.validate(_log(result))
    validator.validate(_log(result, ALL))
    validator.validate(_log(result, RenderOptions(sarif_category="subscription/prod")))


def test_vendored_schema_catches_a_broken_log(result: ScanResult, validator: jsonschema.Draft4Validator) -> None:
    log = _log(result)
    log["runs"][0]["results"][0]["level"] = "critical"
    assert not validator.is_valid(log)


def test_default_holds_only_open_failures_most_severe_first(result: ScanResult) -> None:
    results = _log(result)["runs"][0]["results"]
    expected = sorted(
        (f for f in result.findings if f.status is Status.FAIL and not f.waived_by and not f.baselined),
        key=lambda f: (-f.severity.rank, f.check_id, f.resource_id.lower()),
    )
    assert [_key(r) for r in results] == [(f.check_id, f.resource_id) for f in expected]
    ranks = [Severity(r["properties"]["severity"]).rank for r in results]
    assert ranks == sorted(ranks, reverse=True)
    assert {r["properties"]["status"] for r in results} == {"fail"}


def test_waived_baselined_and_unknown_are_counted_when_left_out(result: ScanResult) -> None:
    note = _left_out(_log(result))
    assert note["properties"] == {"leftOut": 2, "limit": 0, "waived": 1, "baselined": 1, "notAssessed": 3}
    assert note["message"]["text"].startswith("2 failing finding(s) left out: 1 waived, 1 baselined")
    assert "3 not assessed" in note["message"]["text"] and "--sarif-include unknown" in note["message"]["text"]


def test_include_adds_gaps_as_notes_waived_as_suppressed_and_baselined_as_unchanged(result: ScanResult) -> None:
    log = _log(result, ALL)
    results = log["runs"][0]["results"]
    assert _left_out(log)["properties"]["leftOut"] == 0
    levels = {(r["ruleId"], r["properties"]["status"]): r["level"] for r in results}
    assert levels[("MLW-APP-004", "unknown")] == "note"
    assert levels[("MLW-DEF-001", "error")] == "note"
    assert levels[("MLW-WS-003", "fail")] == "warning"  # medium
    waived = [r for r in results if "suppressions" in r]
    assert [r["ruleId"] for r in waived] == ["MLW-ST-002"]
    assert waived[0]["suppressions"][0]["status"] == "accepted"
    assert "WAIVER-42" in waived[0]["suppressions"][0]["justification"]
    states = {r["locations"][0]["logicalLocations"][0]["name"]: r["baselineState"] for r in results}
    assert states[FORMULA_NAME] == "unchanged" and states["mlw-claims"] == "new"
    statuses = [r["properties"]["status"] for r in results]
    assert statuses.index("unknown") > max(i for i, s in enumerate(statuses) if s == "fail")  # gaps after failures
    only_unknown = _log(result, RenderOptions(sarif_include=frozenset({"unknown"})))["runs"][0]["results"]
    assert {r["properties"]["status"] for r in only_unknown} == {"fail", "unknown", "error"}


def test_one_rule_per_check_with_severity_tags_and_remediation(result: ScanResult) -> None:
    run = _log(result)["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert run["tool"]["driver"]["name"] == "mlwarden"
    assert set(rules) == {meta.id for meta in result.checks}
    workspace_rule = rules["MLW-WS-001"]
    assert float(workspace_rule["properties"]["security-severity"]) == 8.0
    assert "private-network" in workspace_rule["properties"]["tags"]
    assert "--public-network-access Disabled" in workspace_rule["help"]["markdown"]
    assert workspace_rule["helpUri"].startswith("https://learn.microsoft.com/")
    assert float(rules["MLW-ST-002"]["properties"]["security-severity"]) >= 9.0
    assert all(len(rule["properties"]["tags"]) <= 20 for rule in rules.values())  # GitHub's per-rule limit


def test_rule_help_names_each_azure_policy_and_links_it(result: ScanResult) -> None:
    rules = {rule["id"]: rule for rule in _log(result)["runs"][0]["tool"]["driver"]["rules"]}
    help_text = rules["MLW-WS-001"]["help"]["text"]
    assert (
        "Azure Policy: Azure Machine Learning Workspaces should disable public network access "
        "(438c38d2-3772-465a-a9cc-7a6666a275ce)" in help_text
    )
    cmk = rules["MLW-WS-003"]
    names = {p["id"]: p["name"] for p in cmk["properties"]["azurePolicy"]}
    assert names["ba769a63-b8cc-4b2d-abf6-ac33c7204be8"].startswith("Azure Machine Learning workspaces should be")
    assert (
        "https://portal.azure.com/#view/Microsoft_Azure_Policy/PolicyDetailBlade/definitionId/"
        "%2Fproviders%2FMicrosoft.Authorization%2FpolicyDefinitions%2F7f40cee6-e933-4d0f-a782-b96615e0f4a6"
    ) in cmk["help"]["markdown"]


def test_every_built_in_policy_id_has_a_name() -> None:
    """A new check citing a policy GUID needs its display name in reports/azure_policy.py (see CHECKS.csv)."""
    cited = {guid for check in load_checks().values() for guid in check.meta.remediation.azure_policy}
    assert cited and cited <= set(POLICY_NAMES), sorted(cited - set(POLICY_NAMES))


def test_results_point_at_the_resource_rule_and_portal(result: ScanResult) -> None:
    run = _log(result)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    workspace = {_key(r): r for r in run["results"]}[("MLW-WS-001", WORKSPACE)]
    assert workspace["level"] == "error"
    assert rules[workspace["ruleIndex"]]["id"] == "MLW-WS-001"
    assert workspace["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == WORKSPACE.lstrip("/")
    expected = next(f for f in result.findings if f.check_id == "MLW-WS-001").fingerprint
    assert workspace["partialFingerprints"] == {sarif.FINGERPRINT_KEY: expected}
    assert workspace["properties"]["security-severity"] == "8.0"
    assert workspace["properties"]["failsGate"] is True
    assert {"path": "properties.publicNetworkAccess", "value": "Enabled"} in workspace["properties"]["evidence"]
    url = f"https://portal.azure.com/#@/resource{WORKSPACE}"
    assert workspace["properties"]["azurePortalUrl"] == url
    assert workspace["message"]["text"].endswith(f" [Open in the Azure portal]({url})")


@pytest.mark.parametrize(("cloud", "host"), [("usgov", "portal.azure.us"), ("china", "portal.azure.cn")])
def test_sovereign_clouds_link_their_own_portal(result: ScanResult, cloud: str, host: str) -> None:
    sovereign = result.model_copy(update={"scope": result.scope.model_copy(update={"cloud": cloud})})
    run = _log(sovereign)["runs"][0]
    assert all(r["properties"]["azurePortalUrl"].startswith(f"https://{host}/#@/resource/") for r in run["results"])
    assert "portal.azure.com" not in json.dumps(run)


def test_unknown_cloud_gets_no_guessed_link(result: ScanResult) -> None:
    stack = result.model_copy(update={"scope": result.scope.model_copy(update={"cloud": "azurestack"})})
    run = _log(stack)["runs"][0]
    assert run["results"] and all("azurePortalUrl" not in r["properties"] for r in run["results"])
    assert "https://" not in json.dumps(run["results"])


def test_brackets_in_estate_text_cannot_forge_a_link() -> None:
    hostile = finding(
        "MLW-WS-001",
        arm_id("Microsoft.MachineLearningServices/workspaces", "w1"),
        Status.FAIL,
        "see [here](https://evil.example) \\",
        resource_name="[x](https://evil.example)",
    )
    text = _log(scan_result((hostile,)))["runs"][0]["results"][0]["message"]["text"]
    links = re.findall(r"(?<!\\)\[([^\]]*)\]\(([^)]*)\)", text)
    assert [target for _, target in links] == [f"https://portal.azure.com/#@/resource{hostile.resource_id}"]


def test_category_sets_automation_details_exactly(result: ScanResult) -> None:
    category = "mlwarden/sub-3f2c ünïcode & spaces/"
    run = _log(result, RenderOptions(sarif_category=category))["runs"][0]
    assert run["automationDetails"] == {"id": category}
    assert "automationDetails" not in _log(result)["runs"][0]


def test_coverage_gaps_become_invocation_warnings(result: ScanResult) -> None:
    invocation = _log(result)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    gaps = [n for n in invocation["toolExecutionNotifications"] if n["descriptor"]["id"].startswith("coverage-gap/")]
    (gap,) = gaps
    assert gap["level"] == "warning" and "403 AuthorizationFailed" in gap["message"]["text"]


def test_same_input_same_bytes(result: ScanResult) -> None:
    assert sarif.render(result) == sarif.render(result.model_copy(update={"findings": result.findings[::-1]}))


def test_at_100k_resources_the_run_is_capped_counted_valid_and_under_githubs_limits(
    estate_100k: ScanResult, validator: jsonschema.Draft4Validator
) -> None:
    findings = estate_100k.findings
    open_failures = [f for f in findings if f.status is Status.FAIL and not f.waived_by and not f.baselined]
    waived = sum(1 for f in findings if f.status is Status.FAIL and f.waived_by)
    baselined = sum(1 for f in findings if f.status is Status.FAIL and f.baselined and not f.waived_by)
    assert len(open_failures) > sarif.MAX_RESULTS  # the generated estate really exceeds GitHub's limit

    built = sarif.build(estate_100k, RenderOptions(sarif_category="estate-100k"))
    log = json.loads(built.data)
    results = log["runs"][0]["results"]
    assert len(results) == built.results == sarif.MAX_RESULTS
    beyond = len(open_failures) - sarif.MAX_RESULTS
    assert _left_out(log)["properties"] == {
        "leftOut": beyond + waived + baselined,
        "limit": beyond,
        "waived": waived,
        "baselined": baselined,
        "notAssessed": sum(1 for f in findings if f.status in (Status.UNKNOWN, Status.ERROR)),
    }
    assert _left_out(log)["level"] == "warning"
    kept = sorted(-Severity(r["properties"]["severity"]).rank for r in results)
    assert [-Severity(r["properties"]["severity"]).rank for r in results] == kept
    worst_left_out = sorted(open_failures, key=lambda f: -f.severity.rank)[sarif.MAX_RESULTS].severity
    assert Severity(results[-1]["properties"]["severity"]).rank >= worst_left_out.rank
    assert len({r["partialFingerprints"][sarif.FINGERPRINT_KEY] for r in results}) == len(results)

    compressed = len(gzip.compress(built.data, compresslevel=6))  # upload-sarif's zlib default
    assert compressed < GITHUB_GZIP_LIMIT
    validator.validate(log)
    notice = sarif.notice(built)
    assert notice is not None and f"{beyond + waived + baselined} failing finding(s) left out" in notice
    print(
        f"\nSARIF at 100k resources: {len(results)} results, {beyond} beyond the limit, "
        f"{len(built.data):,} bytes, {compressed:,} gzipped ({compressed / GITHUB_GZIP_LIMIT:.1%} of GitHub's 10 MB)"
    )


def test_size_limit_drops_the_least_severe_and_counts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Megabyte-sized estate values would push 25,000 results past 10 MB gzipped: the log shrinks to fit."""
    rng = random.Random(0)
    noise = [rng.randbytes(500).hex() for _ in range(3000)]  # random text barely compresses
    many = tuple(
        finding(
            "MLW-WS-003" if i % 2 else "MLW-WS-001",
            arm_id("Microsoft.MachineLearningServices/workspaces", f"w{i}"),
            Status.FAIL,
            noise[i],
        )
        for i in range(3000)
    )
    monkeypatch.setattr(sarif, "MAX_GZIP_BYTES", 200_000)
    built = sarif.build(scan_result(many), RenderOptions())
    assert 0 < built.results < len(many)
    assert built.left_out.limit == len(many) - built.results
    assert len(gzip.compress(built.data)) <= 200_000
    severities = [r["properties"]["severity"] for r in json.loads(built.data)["runs"][0]["results"]]
    assert severities[0] == "high" and severities == sorted(severities, key=lambda s: -Severity(s).rank)


def test_long_values_are_clipped_not_dropped() -> None:
    long_message = "m" * 50_000
    item = finding(
        "MLW-WS-001", arm_id("Microsoft.MachineLearningServices/workspaces", "w1"), Status.FAIL, long_message
    )
    (out,) = _log(scan_result((item,)))["runs"][0]["results"]
    assert len(out["message"]["text"]) < 3_000 and "more characters" in out["message"]["text"]


def test_render_options_reject_unknown_includes() -> None:
    with pytest.raises(ValueError, match="unknown SARIF include"):
        RenderOptions(sarif_include=frozenset({"passing"}))


def test_render_returns_the_notice_the_terminal_prints() -> None:
    rendered = render("sarif", scan_result(), RenderOptions())
    assert rendered.notices == (
        "SARIF: 2 failing finding(s) left out: 1 waived, 1 baselined (see the JSON report for every finding)",
    )
    assert render("markdown", scan_result()).notices == ()


def test_cli_passes_category_and_include_and_says_what_was_left_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["scan", "--demo", "--fail-on", "none", "--format", "sarif", "--out", str(out)]
    plain = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert plain.exit_code == 0, plain.stderr
    default = json.loads((out / "mlwarden-report.sarif").read_text())["runs"][0]
    assert "automationDetails" not in default
    assert {r["properties"]["status"] for r in default["results"]} == {"fail"}

    extra = ["--sarif-category", "demo/estate", "--sarif-include", "unknown"]
    invoked = CliRunner().invoke(cli, [*args, *extra], catch_exceptions=False)
    assert invoked.exit_code == 0, invoked.stderr
    run = json.loads((out / "mlwarden-report.sarif").read_text())["runs"][0]
    assert run["automationDetails"] == {"id": "demo/estate"}
    assert "unknown" in {r["properties"]["status"] for r in run["results"]}

    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - check: MLW-ST-07\n    resource: '*'\n    justification: legacy datastores\n"
        "    owner: platform@example.org\n    expires: 2099-01-01\n"
    )
    waived = CliRunner().invoke(cli, [*args, "--waivers", str(waivers)], catch_exceptions=False)
    count = _left_out(json.loads((out / "mlwarden-report.sarif").read_text()))["properties"]["waived"]
    assert count > 0
    assert f"mlwarden: note: SARIF: {count} failing finding(s) left out: {count} waived" in waived.stderr

    bad = CliRunner().invoke(cli, [*args, "--sarif-include", "passing"])
    assert bad.exit_code == 2


def test_every_result_is_one_finding(result: ScanResult) -> None:
    fingerprints = [r["partialFingerprints"][sarif.FINGERPRINT_KEY] for r in _log(result, ALL)["runs"][0]["results"]]
    chosen = [f for f in result.findings if f.status in (Status.FAIL, Status.UNKNOWN, Status.ERROR)]
    assert sorted(fingerprints) == sorted(
        f.fingerprint or Finding.make_fingerprint(f.check_id, f.resource_id) for f in chosen
    )
