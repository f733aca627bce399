"""JUnit XML that agrees with the gate: valid against the XSD, one stable testcase per check and resource."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from typing import Any
from xml.parsers import expat

import pytest

from reports import junit
from scanner.models import ScanResult, Severity, Status, fails_gate
from tests.reports.conftest import PIPE_MESSAGE, SCHEMAS, STORAGE, WEBAPP, WORKSPACE, arm_id, finding, scan_result


@pytest.fixture(scope="module")
def xsd() -> Any:
    """The vendored XSD; skipped (not failed) where the optional `xmlschema` package is not installed."""
    xmlschema = pytest.importorskip("xmlschema")
    return xmlschema.XMLSchema(SCHEMAS / "junit-10.xsd")


def _root(result: ScanResult) -> ET.Element:
    return ET.fromstring(junit.render(result))


def _cases(result: ScanResult) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in _root(result).iter("testcase")}


def _suites(result: ScanResult) -> dict[str, ET.Element]:
    return {suite.get("name", "").split(" ", 1)[0]: suite for suite in _root(result).iter("testsuite")}


def test_validates_against_the_junit_xsd(result: ScanResult, xsd: Any) -> None:
    xsd.validate(junit.render(result).decode())
    xsd.validate(junit.render(result.model_copy(update={"fail_on": None})).decode())


def test_xsd_rejects_a_testcase_without_a_name(xsd: Any) -> None:
    assert not xsd.is_valid('<testsuites><testsuite tests="1"><testcase classname="x"/></testsuite></testsuites>')


def test_one_suite_per_check(result: ScanResult) -> None:
    """Plus one `scan coverage` suite holding the parts of the scope a source could not read."""
    assert result.gaps
    assert set(_suites(result)) == {meta.id for meta in result.checks} | {"scan"}
    assert set(_suites(result.model_copy(update={"sources": ()}))) == {meta.id for meta in result.checks}


def test_one_testcase_per_finding_named_by_check_and_resource(result: ScanResult) -> None:
    names = [case.get("name", "") for case in _root(result).iter("testcase")]
    assert len(names) == len(set(names)) == len(result.findings) + len(result.gaps)
    expected = {
        f"{f.check_id} {f.resource_id}" + (f" [{f.detail_key}]" if f.detail_key else "") for f in result.findings
    } | {f"coverage {gap.source} {gap.scope}" for gap in result.gaps}
    assert set(names) == expected
    assert f"MLW-APP-004 {WEBAPP} [DB_PASSWORD]" in names
    assert all(
        case.get("classname") == case.get("name", "").split(" ", 1)[0]
        for case in _root(result).iter("testcase")
        if case.get("classname") != "mlwarden.coverage"
    )


def test_names_do_not_change_when_the_number_of_passing_resources_does(result: ScanResult) -> None:
    """No phantom tests: adding a passing resource adds exactly one testcase and renames none."""
    before = set(_cases(result))
    extra = finding("MLW-WS-001", arm_id("Microsoft.MachineLearningServices/workspaces", "w-new"), Status.PASS, "ok")
    after = set(_cases(scan_result((*result.findings, extra))))
    assert after - before == {f"MLW-WS-001 {extra.resource_id}"} and before <= after


def test_failures_are_exactly_the_findings_that_fail_the_gate(result: ScanResult) -> None:
    for severity in [*Severity, None]:
        gated = result.model_copy(update={"fail_on": severity})
        root = _root(gated)
        failing = {case.get("name") for case in root.iter("testcase") if case.find("failure") is not None}
        expected = {
            f"{f.check_id} {f.resource_id}" + (f" [{f.detail_key}]" if f.detail_key else "")
            for f in result.findings
            if fails_gate(f, severity)
        }
        assert failing == expected, severity
        assert root.get("failures") == str(len(expected))
        assert root.get("errors") == str(result.status_counts()["error"] + len(result.gaps))


def test_failure_carries_severity_message_and_evidence(result: ScanResult) -> None:
    case = _cases(result)[f"MLW-WS-001 {WORKSPACE}"]
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "publicNetworkAccess is Enabled"
    assert failure.get("type") == "high"
    assert "properties.publicNetworkAccess = Enabled" in (failure.text or "")


def test_failing_findings_below_the_gate_pass_with_the_reason(result: ScanResult) -> None:
    cases = _cases(result)
    medium = cases[f"MLW-WS-003 {WORKSPACE}"]
    assert medium.find("failure") is None and medium.find("skipped") is None
    assert "FAIL (medium), below --fail-on high" in (medium.findtext("system-out") or "")
    waived = cases[f"MLW-ST-002 {STORAGE}"]
    assert waived.find("failure") is None
    assert "FAIL (critical), waived (WAIVER-42" in (waived.findtext("system-out") or "")
    baselined = cases[f"MLW-APP-001 {arm_id('Microsoft.Web/sites', 'app-legacy')}"]
    assert "in the baseline, does not fail the gate" in (baselined.findtext("system-out") or "")


def _finding_cases(document: bytes) -> list[str]:
    """Testcase names but the `scan coverage` suite's (the hand-built result has a coverage gap)."""
    cases = ET.fromstring(document).iter("testcase")
    return [case.get("name", "") for case in cases if case.get("classname") != "mlwarden.coverage"]


def _outcomes(document: bytes, tag: str) -> dict[str, str]:
    """Testcase name -> message of its `tag` child (skipped, error)."""
    return {
        case.get("name", ""): element.get("message", "")
        for case in ET.fromstring(document).iter("testcase")
        if (element := case.find(tag)) is not None
    }


def test_unknown_and_not_applicable_are_skipped_with_the_reason(result: ScanResult) -> None:
    messages = _outcomes(junit.render(result), "skipped")
    gap = arm_id("Microsoft.KeyVault/vaults", "kv-shared", rg="rg-shared")
    assert (
        messages[f"MLW-KV-001 {gap}"]
        == "not assessed (coverage gap): vault is in a subscription that could not be read"
    )
    assert any(m.startswith("not applicable: ") for m in messages.values())
    expected = sum(1 for f in result.findings if f.status in (Status.UNKNOWN, Status.NOT_APPLICABLE))
    assert len(messages) == expected


def test_check_errors_and_unread_scope_are_errors_as_exit_3_is(result: ScanResult) -> None:
    """They make the scan incomplete (exit 3), so the test run fails too; `--allow-partial`
    (exit 0/1) makes them skipped instead."""
    errors = _outcomes(junit.render(result), "error")
    assert errors[f"MLW-DEF-001 {STORAGE}"].startswith("check error, scan incomplete: check raised KeyError")
    coverage = {name: message for name, message in errors.items() if name.startswith("coverage ")}
    assert len(coverage) == len(result.gaps) >= 1
    assert all(message.startswith("scan incomplete: ") for message in coverage.values())
    assert len(errors) == result.status_counts()["error"] + len(result.gaps)

    out = io.BytesIO()
    junit.write(result, out, allow_partial=True)
    assert _outcomes(out.getvalue(), "error") == {}
    skipped = _outcomes(out.getvalue(), "skipped")
    assert skipped[f"MLW-DEF-001 {STORAGE}"].startswith("not assessed (check error): check raised KeyError")
    assert set(coverage) <= set(skipped)
    assert ET.fromstring(out.getvalue()).get("errors") == "0"


def test_suite_counts_match_the_testcases(result: ScanResult) -> None:
    root = _root(result)
    for suite in root.iter("testsuite"):
        cases = list(suite.iter("testcase"))
        assert suite.get("tests") == str(len(cases))
        assert suite.get("failures") == str(sum(1 for c in cases if c.find("failure") is not None))
        assert suite.get("skipped") == str(sum(1 for c in cases if c.find("skipped") is not None))
        assert suite.get("errors") == str(sum(1 for c in cases if c.find("error") is not None))
    assert root.get("tests") == str(len(list(root.iter("testcase"))))


def test_suite_properties_say_the_gate_and_the_fix(result: ScanResult) -> None:
    suite = _suites(result)["MLW-WS-001"]
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["fail-on"] == "high" and properties["severity"] == "high"
    assert properties["remediation"].startswith("Set publicNetworkAccess to Disabled")
    assert "--public-network-access Disabled" in (properties["az"] or "")


def test_untrusted_text_survives_escaping(result: ScanResult) -> None:
    case = _cases(result)[f"MLW-APP-004 {WEBAPP} [DB_PASSWORD]"]
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == PIPE_MESSAGE
    assert "tags.owner = <script>alert(1)</script>" in (failure.text or "")


def test_xml_invalid_characters_and_duplicates_cannot_break_the_file(xsd: Any) -> None:
    resource = arm_id("Microsoft.MachineLearningServices/workspaces", "w\x01\x0b")
    twice = finding("MLW-WS-001", resource, Status.FAIL, 'bad "quote" \x1b[31m & <tag>', resource_name="w\x00")
    document = junit.render(scan_result((twice, twice)))
    xsd.validate(document.decode())
    names = _finding_cases(document)
    assert len(names) == 2 and len(set(names)) == 2 and names[1].endswith(" #2")


def test_a_real_scan_validates_against_the_xsd(estate_100k: ScanResult, xsd: Any) -> None:
    """The first copy of the generated estate: every check's real verdicts, waivers and baselines included."""
    sample = estate_100k.model_copy(update={"findings": estate_100k.findings[:7_000]})
    assert {f.status for f in sample.findings} >= {Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE}
    xsd.validate(junit.render(sample).decode())


def test_one_testcase_per_finding_at_100k_resources(estate_100k: ScanResult) -> None:
    document = junit.render(estate_100k)
    names: list[str] = []
    failures = 0
    root: dict[str, str] = {}

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal failures
        if tag == "testcase":
            names.append(attributes["name"])
        elif tag == "failure":
            failures += 1
        elif tag == "testsuites":
            root.update(attributes)

    parser = expat.ParserCreate()  # streaming: a tree of 345,600 testcases would cost gigabytes
    parser.StartElementHandler = start
    parser.Parse(document, True)
    assert len(names) == len(estate_100k.findings)
    assert len(set(names)) == len(names)
    gating = sum(1 for f in estate_100k.findings if fails_gate(f, estate_100k.fail_on))
    assert root["failures"] == str(gating) == str(failures)
    assert root["tests"] == str(len(names))
    per_case = len(document) / len(names)
    assert per_case < 600, per_case
    print(f"\nJUnit at 100k resources: {len(names):,} testcases, {len(document):,} bytes ({per_case:.0f} per testcase)")


def test_same_input_same_bytes(result: ScanResult) -> None:
    assert junit.render(result) == junit.render(result.model_copy(update={"findings": result.findings[::-1]}))


def test_names_are_plain_check_and_resource_ids() -> None:
    """Azure DevOps keys test history on classname + name: nothing volatile (counts, times) may appear in them."""
    document = junit.render(scan_result()).decode()
    assert not re.search(r'name="[^"]*\d+ resource\(s\)', document)


def test_hostile_resource_ids_and_detail_keys_read_back_as_their_names(xsd: Any) -> None:
    """Each testcase name is escaped from parts (a resource's id once for all its suites): what a
    parser reads back is the check id, resource id and detail key, with characters XML cannot hold
    replaced, whether the name is plain, carries a detail key or was made unique with `#2`."""
    hostile = "w&\"<x>'\t\n\r\x01 \u2028&amp;"
    resource = arm_id("Microsoft.KeyVault/vaults", hostile)
    findings = []
    for check_id in ("MLW-KV-001", "MLW-ST-002"):
        for detail in (None, 'k"&<\n\x02', 'k"&<\n\x02'):
            item = finding(check_id, resource, Status.FAIL, "m")
            findings.append(item.model_copy(update={"detail_key": detail}))
    document = junit.render(scan_result(tuple(findings)))
    xsd.validate(document.decode())
    names = sorted(_finding_cases(document))
    clean = junit._clean
    expected = sorted(
        clean(f"{check_id} {resource}") + (f" [{clean(detail)}]" if detail else "") + (" #2" if second else "")
        for check_id in ("MLW-KV-001", "MLW-ST-002")
        for detail, second in ((None, False), ('k"&<\n\x02', False), ('k"&<\n\x02', True))
    )
    assert names == expected
