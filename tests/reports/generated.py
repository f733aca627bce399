"""A scan result the size of a 100,000-resource estate, built from a real scan of a generated one.

Scanning 100,000 resources in every test run would cost tens of seconds, so one real scan of a
2,000-resource generated estate (every built-in check, every framework in force) is replicated
into disjoint subscriptions: the findings, severities and statuses are the checks' own, only the
resource ids differ between copies. Some failing findings are then waived or baselined, as a real
pipeline's would be.
"""

from __future__ import annotations

from benchmarks.estate_gen import generate
from frameworks.catalog import load_all
from scanner.engine import scan
from scanner.models import Finding, ScanResult, Severity, Status
from scanner.registry import TAGS, load_checks

SEED_RESOURCES = 2_000
WAIVED_EVERY = 11
BASELINED_EVERY = 7


def _clone(finding: Finding, **fields: object) -> Finding:
    """A copy with some fields replaced, without re-validation: these values came out of a real scan,
    and at 345,000 findings `model_copy` would cost more than every test that uses them."""
    clone = object.__new__(Finding)
    state = dict(finding.__dict__)
    state.update(fields)
    object.__setattr__(clone, "__dict__", state)
    object.__setattr__(clone, "__pydantic_fields_set__", finding.__pydantic_fields_set__)
    object.__setattr__(clone, "__pydantic_extra__", None)
    object.__setattr__(clone, "__pydantic_private__", None)
    return clone


def _replicas(findings: tuple[Finding, ...], copies: int) -> list[Finding]:
    out: list[Finding] = []
    for index in range(copies):
        marker = f"/subscriptions/{index:05d}-"
        for finding in findings:
            resource_id = finding.resource_id.replace("/subscriptions/", marker, 1)
            fingerprint = Finding.make_fingerprint(finding.check_id, resource_id, finding.detail_key)
            out.append(_clone(finding, resource_id=resource_id, fingerprint=fingerprint))
    return out


def _accept(findings: list[Finding]) -> None:
    """Waive every 11th and baseline every 7th failing finding."""
    failing = [index for index, f in enumerate(findings) if f.status is Status.FAIL]
    for position, index in enumerate(failing):
        if position % WAIVED_EVERY == 0:
            waiver = f"WAIVER-{position} (platform team, expires 2027-06-30): migration"
            findings[index] = _clone(findings[index], waived_by=waiver)
        elif position % BASELINED_EVERY == 0:
            findings[index] = _clone(findings[index], baselined=True)


def scan_at_scale(resources: int = 100_000) -> ScanResult:
    checks = load_checks()
    catalog = load_all(check_ids=set(checks), tags=TAGS)
    frameworks = [fw for fw in catalog.values() if fw.status == "in-force"]
    seed = scan(generate(SEED_RESOURCES), origin="snapshot", checks=checks, frameworks=frameworks)
    findings = _replicas(seed.findings, resources // SEED_RESOURCES)
    _accept(findings)
    return seed.model_copy(update={"findings": tuple(findings), "resource_count": resources, "fail_on": Severity.HIGH})
