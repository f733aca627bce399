"""JUnit XML: one testsuite per check, so CI test tabs group failures the way the checks are written.

Each failing, erroring, unknown, waived or baselined resource is its own testcase (the
resource is what someone must fix or look at). Passing and not-applicable resources are
one aggregated testcase per check: at 100,000 resources a testcase per pass would bury the
failures and make the file unusable in CI viewers.
Waived and baselined failures are `<skipped>`: they were accepted, so they must not fail the
build, but the reason stays visible.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from reports.digest import evidence_value, finding_order
from scanner.models import CheckMeta, Finding, ScanResult, Status

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render(result: ScanResult) -> bytes:
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for finding in result.findings:
        by_check[finding.check_id].append(finding)
    metas = {meta.id: meta for meta in result.checks}
    root = ET.Element("testsuites", {"name": "mlwarden"})
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for check_id in sorted(set(metas) | set(by_check)):
        suite = _suite(check_id, metas.get(check_id), by_check.get(check_id, []), result)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", f"{result.timings.total_seconds:.3f}")
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _suite(check_id: str, meta: CheckMeta | None, findings: list[Finding], result: ScanResult) -> ET.Element:
    title = meta.title if meta else (findings[0].title if findings else check_id)
    suite = ET.Element("testsuite", {"name": _clean(f"{check_id} {title}")})
    if meta:
        properties = ET.SubElement(suite, "properties")
        for name, value in (("severity", meta.severity.value), ("pillar", meta.pillar), ("tags", ",".join(meta.tags))):
            ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    passed = not_applicable = 0
    for finding in sorted(findings, key=finding_order):
        if finding.status is Status.PASS:
            passed += 1
            continue
        if finding.status is Status.NOT_APPLICABLE:
            not_applicable += 1
            continue
        outcome = _case(suite, check_id, finding)
        counts["tests"] += 1
        counts[outcome] += 1
    if passed:
        ET.SubElement(suite, "testcase", {"classname": _clean(check_id), "name": f"{passed} resource(s) pass"})
        counts["tests"] += 1
    if not_applicable:
        case = ET.SubElement(
            suite, "testcase", {"classname": _clean(check_id), "name": f"{not_applicable} resource(s) not applicable"}
        )
        ET.SubElement(case, "skipped", {"message": "the check does not apply to these resources"})
        counts["tests"] += 1
        counts["skipped"] += 1
    for key, count in counts.items():
        suite.set(key, str(count))
    suite.set("time", "0")
    suite.set("timestamp", result.generated_at.isoformat())
    return suite


def _case(suite: ET.Element, check_id: str, finding: Finding) -> str:
    """Append one testcase; return which counter it adds to (failures, errors, skipped or tests)."""
    name = finding.resource_id + (f" [{finding.detail_key}]" if finding.detail_key else "")
    case = ET.SubElement(suite, "testcase", {"classname": _clean(check_id), "name": _clean(name)})
    message = _clean(finding.message)
    if finding.status is Status.FAIL and finding.waived_by:
        ET.SubElement(case, "skipped", {"message": _clean(f"waived: {finding.waived_by}")})
        return "skipped"
    if finding.status is Status.FAIL and finding.baselined:
        ET.SubElement(case, "skipped", {"message": _clean(f"baselined: {finding.message}")})
        return "skipped"
    if finding.status is Status.FAIL:
        failure = ET.SubElement(case, "failure", {"message": message, "type": finding.severity.value})
        failure.text = _clean(_details(finding))
        return "failures"
    if finding.status is Status.ERROR:
        error = ET.SubElement(case, "error", {"message": message, "type": "check-error"})
        error.text = _clean(_details(finding))
        return "errors"
    ET.SubElement(case, "skipped", {"message": _clean(f"not assessed (coverage gap): {finding.message}")})
    return "skipped"


def _details(finding: Finding) -> str:
    lines = [f"{finding.title} ({finding.severity.value})", finding.message, ""]
    lines += [f"{item.path} = {evidence_value(item.value)}" for item in finding.evidence]
    if finding.remediation:
        lines += ["", f"Fix: {finding.remediation.text}"]
        if finding.remediation.az_cli:
            lines.append(f"az: {finding.remediation.az_cli}")
    return "\n".join(lines)


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot carry at all (escaping cannot save them)."""
    return _XML_INVALID.sub("\ufffd", text)
