"""JUnit XML: valid against the Jenkins xUnit XSD, one suite per check, passes aggregated."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from reports import junit
from scanner.models import ScanResult
from tests.reports.conftest import PIPE_MESSAGE, SCHEMAS, WEBAPP


@pytest.fixture(scope="module")
def xsd() -> Any:
    """The vendored XSD; skipped (not failed) where the optional `xmlschema` package is not installed."""
    xmlschema = pytest.importorskip("xmlschema")
    return xmlschema.XMLSchema(SCHEMAS / "junit-10.xsd")


def _suites(result: ScanResult) -> dict[str, ET.Element]:
    root = ET.fromstring(junit.render(result))
    return {suite.get("name", "").split(" ", 1)[0]: suite for suite in root.iter("testsuite")}


def test_validates_against_the_junit_xsd(result: ScanResult, xsd: Any) -> None:
    xsd.validate(junit.render(result).decode())


def test_xsd_rejects_a_testcase_without_a_name(xsd: Any) -> None:
    assert not xsd.is_valid('<testsuites><testsuite tests="1"><testcase classname="x"/></testsuite></testsuites>')


def test_one_suite_per_check(result: ScanResult) -> None:
    assert set(_suites(result)) == {meta.id for meta in result.checks}


def test_failure_error_and_skipped_by_status(result: ScanResult) -> None:
    suites = _suites(result)
    workspace = suites["MLW-WS-001"]
    (failure,) = workspace.iter("failure")
    assert failure.get("message") == "publicNetworkAccess is Enabled"
    assert failure.get("type") == "high"
    assert "properties.publicNetworkAccess = Enabled" in (failure.text or "")
    defender = suites["MLW-DEF-001"]
    assert [e.get("type") for e in defender.iter("error")] == ["check-error"]
    assert defender.get("errors") == "1"
    secrets = suites["MLW-APP-004"]
    skipped = [s.get("message", "") for s in secrets.iter("skipped")]
    assert any(message.startswith("not assessed (coverage gap)") for message in skipped)


def test_waived_and_baselined_failures_are_skipped_not_failed(result: ScanResult) -> None:
    suites = _suites(result)
    storage = suites["MLW-ST-002"]
    assert list(storage.iter("failure")) == []
    assert "WAIVER-42" in next(storage.iter("skipped")).get("message", "")
    tls = suites["MLW-APP-001"]
    assert tls.get("failures") == "1"
    assert any(s.get("message", "").startswith("baselined") for s in tls.iter("skipped"))


def test_suite_counts_match_the_testcases(result: ScanResult) -> None:
    root = ET.fromstring(junit.render(result))
    for suite in root.iter("testsuite"):
        cases = list(suite.iter("testcase"))
        assert suite.get("tests") == str(len(cases))
        assert suite.get("failures") == str(sum(1 for c in cases if c.find("failure") is not None))
        assert suite.get("skipped") == str(sum(1 for c in cases if c.find("skipped") is not None))
    assert root.get("tests") == str(len(list(root.iter("testcase"))))


def test_untrusted_text_survives_escaping(result: ScanResult) -> None:
    suites = _suites(result)
    case = next(c for c in suites["MLW-APP-004"].iter("testcase") if c.get("name", "").startswith(WEBAPP))
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == PIPE_MESSAGE
    assert "tags.owner = <script>alert(1)</script>" in (failure.text or "")


def test_passes_are_one_testcase_per_check_at_scale(large_result: ScanResult) -> None:
    document = junit.render(large_result)
    root = ET.fromstring(document)
    suites = {suite.get("name", "").split(" ", 1)[0]: suite for suite in root.iter("testsuite")}
    vaults = suites["MLW-KV-001"]
    names = [case.get("name", "") for case in vaults.iter("testcase")]
    assert "99900 resource(s) pass" in names
    assert len(names) == 101  # 100 failures + 1 aggregated pass
    assert vaults.get("failures") == "100"
    assert len(document) < 500_000


def test_same_input_same_bytes(result: ScanResult) -> None:
    assert junit.render(result) == junit.render(result.model_copy(update={"findings": result.findings[::-1]}))
