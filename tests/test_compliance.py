"""Control evaluation: fail beats gaps beats pass; unmapped controls are manual, never dropped."""

from __future__ import annotations

from frameworks.catalog import Control, ControlMapping, Framework
from scanner.compliance import evaluate
from scanner.models import CheckMeta, Finding, Remediation, Severity, Status


def _meta(check_id: str, tags: tuple[str, ...]) -> CheckMeta:
    return CheckMeta(
        id=check_id,
        title=check_id,
        kinds=("storage",),
        severity=Severity.HIGH,
        tags=tags,
        pillar="encryption",
        rationale="r",
        remediation=Remediation(text="f"),
    )


def _finding(check_id: str, resource: str, status: Status, waived: str | None = None) -> Finding:
    return Finding(
        check_id=check_id,
        resource_id=f"/subscriptions/s/x/{resource}",
        resource_type="t",
        resource_name=resource,
        status=status,
        severity=Severity.HIGH,
        title=check_id,
        message="m",
        waived_by=waived,
        fingerprint=Finding.make_fingerprint(check_id, resource),
    )


CHECKS = [
    _meta("C-TLS", ("encryption-in-transit",)),
    _meta("C-CMK", ("encryption-at-rest",)),
    _meta("C-LOG", ("logging",)),
]

FRAMEWORK = Framework(
    id="fw",
    name="Test framework",
    version="1",
    controls=(
        Control(
            id="T1",
            title="Transit",
            level="addressable",
            mappings=(ControlMapping(tags=("encryption-in-transit",), strength="direct"),),
        ),
        Control(id="T2", title="Rest", mappings=(ControlMapping(tags=("encryption-at-rest",), strength="supporting"),)),
        Control(id="T3", title="Logs", mappings=(ControlMapping(checks=("C-LOG",), strength="direct"),)),
        Control(id="T4", title="Policy document", manual_evidence="The signed policy."),
        Control(
            id="T5",
            title="Nothing in scope",
            mappings=(ControlMapping(tags=("data-residency",), strength="supporting"),),
        ),
    ),
)


def test_statuses_reasons_and_manual_controls() -> None:
    findings = [
        _finding("C-TLS", "a", Status.PASS),
        _finding("C-TLS", "b", Status.FAIL),
        _finding("C-CMK", "a", Status.PASS),
        _finding("C-CMK", "b", Status.NOT_APPLICABLE),
        _finding("C-LOG", "a", Status.PASS),
        _finding("C-LOG", "b", Status.UNKNOWN),
    ]
    (result,) = evaluate([FRAMEWORK], CHECKS, findings)
    by_id = {c.control_id: c for c in result.controls}
    assert by_id["T1"].status == "fail" and by_id["T1"].failing == (findings[1].fingerprint,)
    assert by_id["T1"].level == "addressable" and by_id["T1"].strength == "direct"
    assert by_id["T2"].status == "pass" and by_id["T2"].strength == "supporting" and by_id["T2"].passing_count == 1
    assert by_id["T3"].status == "not_assessed" and "could not be evaluated" in by_id["T3"].reason
    assert by_id["T4"].status == "manual" and by_id["T4"].manual_evidence == "The signed policy."
    assert by_id["T5"].status == "not_assessed" and "no resource in scope" in by_id["T5"].reason
    assert result.counts() == {"pass": 1, "fail": 1, "attested": 0, "manual": 1, "not_assessed": 2}


def test_waived_failure_does_not_fail_the_control() -> None:
    findings = [_finding("C-TLS", "b", Status.FAIL, waived="owner until 2099-01-01: accepted")]
    (result,) = evaluate([FRAMEWORK], CHECKS, findings)
    assert result.controls[0].status == "pass"


def test_findings_built_without_validation_count_the_same() -> None:
    """Fast builders may skip validation and store a status as its plain value: controls don't change."""
    findings = [
        _finding("C-TLS", "a", Status.PASS),
        _finding("C-TLS", "b", Status.FAIL),
        _finding("C-TLS", "c", Status.FAIL, waived="owner until 2099-01-01: accepted"),
        _finding("C-LOG", "b", Status.UNKNOWN),
    ]
    plain = [Finding.model_construct(**{**f.__dict__, "status": f.status.value}) for f in findings]
    assert all(type(f.status) is str for f in plain)
    assert evaluate([FRAMEWORK], CHECKS, plain) == evaluate([FRAMEWORK], CHECKS, findings)


def test_a_control_lists_failures_check_by_check_sharing_the_findings_strings() -> None:
    findings = [
        _finding("C-LOG", "x", Status.FAIL),
        _finding("C-TLS", "y", Status.FAIL),
        _finding("C-LOG", "z", Status.FAIL),
    ]
    both = Framework(
        id="fw2",
        name="Both",
        version="1",
        controls=(
            Control(
                id="B",
                title="Both",
                mappings=(ControlMapping(tags=("logging", "encryption-in-transit"), strength="direct"),),
            ),
        ),
    )
    (result,) = evaluate([both], CHECKS, findings)
    (control,) = result.controls
    assert control.check_ids == ("C-LOG", "C-TLS")
    assert control.failing == (findings[0].fingerprint, findings[2].fingerprint, findings[1].fingerprint)
    assert all(
        a is b
        for a, b in zip(
            control.failing, (findings[0].fingerprint, findings[2].fingerprint, findings[1].fingerprint), strict=True
        )
    )
