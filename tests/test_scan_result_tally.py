"""ScanResult's failed findings and counts: one pass per result however many renderers ask, never stale."""

from __future__ import annotations

import gc

from scanner import models
from scanner.models import Finding, ScanResult, Severity, Status
from tests.reports.conftest import scan_result


def _finding(name: str, status: Status, severity: Severity = Severity.HIGH, waived: str | None = None) -> Finding:
    return Finding(
        check_id="MLW-T-1",
        resource_id=f"/subscriptions/s/x/{name}",
        resource_type="t",
        resource_name=name,
        status=status,
        severity=severity,
        title="t",
        message="m",
        waived_by=waived,
        fingerprint=Finding.make_fingerprint("MLW-T-1", name),
    )


def _result(*findings: Finding) -> ScanResult:
    return scan_result().model_copy(update={"findings": findings})


def test_counts_and_failed_findings() -> None:
    findings = (
        _finding("a", Status.FAIL, Severity.CRITICAL),
        _finding("b", Status.FAIL, Severity.LOW, waived="owner until 2099-01-01: accepted"),
        _finding("c", Status.PASS),
        _finding("d", Status.FAIL, Severity.LOW),
        _finding("e", Status.UNKNOWN),
    )
    result = _result(*findings)
    assert result.failed() == (findings[0], findings[3])
    assert result.status_counts() == {"pass": 1, "fail": 3, "error": 0, "not_applicable": 0, "unknown": 1}
    assert result.severity_counts() == {"critical": 1, "high": 0, "medium": 0, "low": 1, "info": 0}


def test_asked_again_it_is_not_recounted_and_callers_cannot_spoil_it() -> None:
    result = _result(_finding("a", Status.FAIL), _finding("b", Status.PASS))
    assert result.failed() is result.failed()
    counts = result.status_counts()
    counts["fail"] = 99
    assert result.status_counts()["fail"] == 1


def test_a_copy_with_other_findings_counts_its_own_and_equality_ignores_the_tally() -> None:
    result = _result(_finding("a", Status.FAIL))
    assert len(result.failed()) == 1
    copy = result.model_copy(update={"findings": (_finding("a", Status.PASS), _finding("b", Status.PASS))})
    assert copy.failed() == () and copy.status_counts()["pass"] == 2
    assert result == _result(_finding("a", Status.FAIL))  # one was counted, the other not: still equal


def test_the_tally_goes_with_its_result() -> None:
    result = _result(_finding("a", Status.FAIL))
    result.failed()
    key = id(result)
    assert key in models._TALLIES
    del result
    gc.collect()
    assert key not in models._TALLIES


def test_a_status_stored_as_its_plain_value_counts_the_same() -> None:
    built = _finding("a", Status.FAIL)
    plain = Finding.model_construct(**{**built.__dict__, "status": "fail", "severity": "high"})
    result = _result(plain)
    assert result.failed() == (plain,)
    assert result.status_counts()["fail"] == 1 and result.severity_counts()["high"] == 1
