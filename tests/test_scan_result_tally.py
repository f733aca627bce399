"""ScanResult's failed findings and counts: one pass per result however many renderers ask, never stale."""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path

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
    assert result.waived_count() == 1


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


def test_the_scan_counts_in_its_own_pass_what_a_recount_gives() -> None:
    """The engine's tally (made in the pass that indexes findings for compliance and posture, and
    inherited by forked renderers) is what counting the result's findings afresh gives: on a
    generated estate with waivers and a baseline, so every branch counts."""
    from benchmarks.estate_gen import generate
    from frameworks.catalog import load_all
    from scanner.engine import scan
    from scanner.policy import load_waivers
    from scanner.registry import TAGS, load_checks

    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    inventory = generate(400, seed=5)
    plain = scan(inventory, origin="snapshot", checks=checks, frameworks=frameworks, jobs=1)
    failing = [f for f in plain.findings if f.status is Status.FAIL]
    waiver = failing[0]
    path = Path(tempfile.mkdtemp()) / "waivers.yaml"
    path.write_text(
        "waivers:\n"
        f"- check: {waiver.check_id}\n  resource: '{waiver.resource_id}'\n  owner: ops@example.com\n"
        "  justification: accepted for the test\n  expires: 2099-01-01\n"
    )
    result = scan(
        inventory,
        origin="snapshot",
        checks=checks,
        frameworks=frameworks,
        waivers=load_waivers(path, set(checks)),
        baseline=frozenset({failing[-1].fingerprint}),
        jobs=1,
    )
    seeded = models._tally(result)
    recount = models._tally(result.model_copy(update={"findings": tuple(result.findings)}))
    assert seeded == recount
    assert seeded.waived >= 1 and seeded.failed and seeded.statuses["pass"] and seeded.statuses["not_applicable"]
    assert any(f.baselined for f in seeded.failed)
