"""JUnit XML that agrees with the gate, for Azure DevOps `PublishTestResults@2` and GitHub test reporters.

One testsuite per check; one testcase per check and resource (and detail key, where a check
judges several items of one resource), named `<check id> <resource id>[ [<detail key>]]` so a
test keeps its name and history from run to run. A testcase fails exactly when its finding
fails the gate (`scanner.models.fails_gate`: at or above `--fail-on`, not waived, not
baselined), so a CI task that fails on failed tests fails exactly when mlwarden exits 1.
Failing findings that do not fail the gate pass with the reason in `<system-out>`; coverage
gaps and checks that do not apply are `<skipped>` with the reason. A check error, and each part
of the scope a source could not read (a last `scan coverage` suite), is an `<error>`: they
make the scan incomplete (exit 3), so the test run fails too. With `--allow-partial` (exit 0/1
despite them) they are `<skipped>` instead.

Written as text rather than through an element tree, and streamed suite by suite to a file
handle: at 100,000 resources the file holds a few hundred thousand testcases, and a tree (or
one string) of them would cost far more memory than the findings.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from typing import IO
from xml.sax.saxutils import escape

from reports.digest import evidence_value
from scanner.models import CheckMeta, Finding, ScanResult, Severity, Status, fails_gate

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTRIBUTE = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
TEXT_LIMIT = 2_000
_FLUSH_EVERY = 2_000
_SKIPPED = frozenset({Status.UNKNOWN, Status.ERROR, Status.NOT_APPLICABLE})


def write(result: ScanResult, handle: IO[bytes], *, allow_partial: bool = False) -> None:
    """Stream the XML: counts first (a cheap pass over the outcomes), then one suite at a time."""
    fail_on, errors_fail = result.fail_on, not allow_partial
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for finding in result.findings:
        by_check[finding.check_id].append(finding)
    metas = {meta.id: meta for meta in result.checks}
    check_ids = sorted(set(metas) | set(by_check))
    failures = sum(1 for finding in result.findings if fails_gate(finding, fail_on))
    gaps = result.gaps
    errors = (result.status_counts()["error"] + len(gaps)) if errors_fail else 0
    head = _element(
        "testsuites",
        {
            "name": "mlwarden",
            "tests": str(len(result.findings) + len(gaps)),
            "failures": str(failures),
            "errors": str(errors),
            "time": f"{result.timings.total_seconds:.3f}",
        },
    )
    handle.write(f'<?xml version="1.0" encoding="utf-8"?>\n{head}>\n'.encode())
    for check_id in check_ids:
        _suite(check_id, metas.get(check_id), by_check.get(check_id, []), result, handle, errors_fail)
    if gaps:
        _coverage_suite(result, handle, errors_fail)
    handle.write(b"</testsuites>\n")


def render(result: ScanResult) -> bytes:
    out = io.BytesIO()
    write(result, out)
    return out.getvalue()


def _outcome(finding: Finding, fail_on: Severity | None, errors_fail: bool) -> str:
    if fails_gate(finding, fail_on):
        return "failure"
    if errors_fail and finding.status is Status.ERROR:
        return "error"
    return "skipped" if finding.status in _SKIPPED else "passed"


def _suite(
    check_id: str,
    meta: CheckMeta | None,
    findings: list[Finding],
    result: ScanResult,
    handle: IO[bytes],
    errors_fail: bool,
) -> None:
    """One check's testsuite. Test names are unique within it, hence in the file: each starts with the check id."""
    title = meta.title if meta else (findings[0].title if findings else check_id)
    outcomes = [_outcome(finding, result.fail_on, errors_fail) for finding in findings]
    attributes = {
        "name": f"{check_id} {title}",
        "tests": str(len(findings)),
        "failures": str(outcomes.count("failure")),
        "errors": str(outcomes.count("error")),
        "skipped": str(outcomes.count("skipped")),
        "time": "0",
        "timestamp": result.generated_at.isoformat(),
    }
    handle.write(f"  {_element('testsuite', attributes)}>\n{_properties(meta, result.fail_on)}".encode())
    seen: set[str] = set()
    cases: list[str] = []
    names = _Names(check_id)
    for finding in sorted(findings, key=lambda f: (f.resource_id.lower(), f.detail_key or "", f.resource_id)):
        name = _unique(_name(finding), seen)
        cases.append(_case(finding, result.fail_on, names.open_tag(finding, name), errors_fail)[0])
        if len(cases) >= _FLUSH_EVERY:
            handle.write("".join(cases).encode())
            cases.clear()
    handle.write("".join(cases).encode() + b"  </testsuite>\n")


class _Names:
    """A suite's testcase opening tags. A name is the check id, the resource id and the detail key,
    and escaping works character by character, so each part is escaped once (a resource has a
    testcase in every suite) and the escaped parts are joined; a name `_unique` changed is escaped
    whole. The classname is the suite's check id, escaped once."""

    def __init__(self, check_id: str) -> None:
        self.check = _attribute(check_id)
        self.resources: dict[str, str] = {}

    def open_tag(self, finding: Finding, name: str) -> str:
        """`<testcase ...` without its closing `>` or `/>`, for `finding` named `name`."""
        # time="0": some reporters parse a missing duration as NaN; a check on one resource takes no measurable time.
        return f'    <testcase classname="{self.check}" name="{self._name(finding, name)}" time="0"'

    def _name(self, finding: Finding, name: str) -> str:
        if name != _name(finding):
            return _attribute(name)
        resource = self.resources.get(finding.resource_id)
        if resource is None:
            resource = self.resources[finding.resource_id] = _attribute(finding.resource_id)
        detail = f" [{_attribute(finding.detail_key)}]" if finding.detail_key else ""
        return f"{self.check} {resource}{detail}"


def _properties(meta: CheckMeta | None, fail_on: Severity | None) -> str:
    """What every testcase of the suite shares, said once: severity, remediation, the gate."""
    pairs = [("fail-on", fail_on.value if fail_on else "none")]
    if meta:
        pairs += [("severity", meta.severity.value), ("pillar", meta.pillar), ("tags", ",".join(meta.tags))]
        pairs.append(("remediation", meta.remediation.text))
        if meta.remediation.az_cli:
            pairs.append(("az", meta.remediation.az_cli))
    lines = "".join(f"      {_element('property', {'name': name, 'value': value})}/>\n" for name, value in pairs)
    return f"    <properties>\n{lines}    </properties>\n"


def _name(finding: Finding) -> str:
    name = f"{finding.check_id} {finding.resource_id}"
    return f"{name} [{finding.detail_key}]" if finding.detail_key else name


def _unique(name: str, seen: set[str]) -> str:
    """Names are unique in the file even if a plugin reports one item twice: later ones get `#2`, `#3`."""
    candidate, number = name, 1
    while candidate in seen:
        number += 1
        candidate = f"{name} #{number}"
    seen.add(candidate)
    return candidate


def _coverage_suite(result: ScanResult, handle: IO[bytes], errors_fail: bool) -> None:
    """One testcase per part of the scope a source could not read, named by source and scope."""
    gaps = result.gaps
    attributes = {
        "name": "scan coverage",
        "tests": str(len(gaps)),
        "failures": "0",
        "errors": str(len(gaps)) if errors_fail else "0",
        "skipped": "0" if errors_fail else str(len(gaps)),
        "time": "0",
        "timestamp": result.generated_at.isoformat(),
    }
    cases: list[str] = []
    seen: set[str] = set()
    for gap in gaps:
        name = _unique(f"coverage {gap.source} {gap.scope}", seen)
        message = _clip(f"scan incomplete: {gap.source} could not read {gap.scope}: {gap.reason}")
        tag = "error" if errors_fail else "skipped"
        outcome = _element(tag, {"message": message, "type": "coverage-gap"} if errors_fail else {"message": message})
        opening = _element("testcase", {"classname": "mlwarden.coverage", "name": name, "time": "0"})
        cases.append(f"    {opening}>\n      {outcome}/>\n    </testcase>\n")
    handle.write(f"  {_element('testsuite', attributes)}>\n{''.join(cases)}  </testsuite>\n".encode())


def _case(finding: Finding, fail_on: Severity | None, open_tag: str, errors_fail: bool = False) -> tuple[str, str]:
    """One testcase (`open_tag` from `_Names`) and its outcome: failure, error, skipped or passed."""
    if finding.status is Status.PASS and not fails_gate(finding, fail_on):
        return f"{open_tag}/>\n", "passed"
    message = _clip(finding.message)
    if fails_gate(finding, fail_on):
        failure = _element("failure", {"message": message, "type": finding.severity.value})
        return f"{open_tag}>\n      {failure}>{_text(_details(finding))}</failure>\n    </testcase>\n", "failure"
    if errors_fail and finding.status is Status.ERROR:
        error = _element("error", {"message": f"check error, scan incomplete: {message}", "type": "check-error"})
        return f"{open_tag}>\n      {error}/>\n    </testcase>\n", "error"
    if finding.status is Status.FAIL:
        note = f"FAIL ({finding.severity.value}), {_why_not_gating(finding, fail_on)}: {message}"
        return f"{open_tag}>\n      <system-out>{_text(note)}</system-out>\n    </testcase>\n", "passed"
    reason = {
        Status.UNKNOWN: "not assessed (coverage gap)",
        Status.ERROR: "not assessed (check error)",
        Status.NOT_APPLICABLE: "not applicable",
    }.get(finding.status)
    if reason is None:
        return f"{open_tag}/>\n", "passed"
    skipped = _element("skipped", {"message": f"{reason}: {message}"})
    return f"{open_tag}>\n      {skipped}/>\n    </testcase>\n", "skipped"


def _why_not_gating(finding: Finding, fail_on: Severity | None) -> str:
    if finding.waived_by:
        return f"waived ({_clip(finding.waived_by)}), does not fail the gate"
    if finding.baselined:
        return "in the baseline, does not fail the gate"
    if fail_on is None:
        return "no gate (--fail-on none)"
    return f"below --fail-on {fail_on.value}, does not fail the gate"


def _details(finding: Finding) -> str:
    lines = [f"{finding.title} ({finding.severity.value})", _clip(finding.message)]
    lines += [f"{item.path} = {_clip(evidence_value(item.value))}" for item in finding.evidence]
    return "\n".join(lines)


def _element(tag: str, attributes: dict[str, str]) -> str:
    """An opening tag without its closing `>` or `/>`."""
    rendered = "".join(f' {key}="{_attribute(value)}"' for key, value in attributes.items())
    return f"<{tag}{rendered}"


def _attribute(value: str) -> str:
    """An attribute's value as it goes between double quotes."""
    return escape(_clean(value), _ATTRIBUTE)


def _text(text: str) -> str:
    return escape(_clean(text))


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else f"{text[:TEXT_LIMIT]}… ({len(text) - TEXT_LIMIT} more characters)"


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot carry at all (escaping cannot save them)."""
    return _XML_INVALID.sub("\ufffd", text)
