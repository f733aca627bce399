"""SARIF 2.1.0 for GitHub code scanning (and Azure DevOps, Defender for DevOps) at any scale.

By default a run holds what someone must fix: failing findings that are neither waived nor
baselined, most severe first. `--sarif-include` adds coverage gaps and check errors (as notes),
waived findings (as suppressed results) or baselined ones. GitHub rejects a run above 25,000
results or 10 MB gzipped, so the least severe results beyond either limit are left out; what
is left out, and why, is counted in a run notification and returned to the CLI, never silent.

`baselineState` (SARIF 3.27.24) is written only when the scan was compared against a baseline
(`--baseline`): `unchanged` for a finding the baseline accepts, `new` for the rest; without one it
is left out, since every result would otherwise claim a comparison that never happened. Neither
`updated` nor `absent` is used: a baseline holds fingerprints only, so a change in a finding's
details cannot be told, and an absent result would have no rule or location; GitHub code
scanning ignores `baselineState` and opens an alert for every result it is given, so a result
for a fixed finding would reopen it. Fixed baselined findings are counted instead, in a run
notification and `runs[].properties.baseline.absent`.

An Azure resource is not a file: each result names it as a logical location (its ARM id), as
an artifact URI (the ARM id as a relative reference, which code-scanning UIs require) and links
it in the Azure portal of the scanned cloud.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from reports.azure_policy import POLICY_NAMES
from reports.digest import evidence_value
from reports.options import RenderOptions
from scanner.models import BaselineUse, CheckMeta, Finding, ScanResult, Severity, Status, fails_gate

SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "mlwarden/v1"
MAX_RESULTS = 25_000
"""GitHub rejects a run with more results."""
MAX_GZIP_BYTES = 9 * 1024 * 1024
"""GitHub rejects an upload above 10 MB gzipped; keep a margin for its own re-encoding."""
MAX_TAGS = 20
MAX_GAP_NOTIFICATIONS = 100
TEXT_LIMIT = 2_000
VALUE_LIMIT = 500
MAX_EVIDENCE = 20

PORTALS = {"public": "portal.azure.com", "usgov": "portal.azure.us", "china": "portal.azure.cn"}
"""The Azure portal of each cloud mlwarden scans; a resource link must open where the resource lives."""

SECURITY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
"""GitHub's `security-severity` bands: >=9 critical, 7-8.9 high, 4-6.9 medium, 0.1-3.9 low."""

LEVEL: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "warning",
    Severity.INFO: "note",
}


@dataclass(frozen=True)
class LeftOut:
    """Findings a run does not hold, by reason."""

    limit: int = 0
    """Beyond GitHub's result or size limit (the least severe go first)."""
    waived: int = 0
    baselined: int = 0
    not_assessed: int = 0
    """Unknown or error findings, left out unless `--sarif-include unknown`."""

    @property
    def total(self) -> int:
        """Failing findings left out: by limit, waiver or baseline."""
        return self.limit + self.waived + self.baselined


@dataclass(frozen=True)
class SarifLog:
    data: bytes
    results: int
    left_out: LeftOut


def render(result: ScanResult, options: RenderOptions | None = None) -> bytes:
    return build(result, options or RenderOptions()).data


def build(result: ScanResult, options: RenderOptions) -> SarifLog:
    """The log, how many results it holds and what it left out."""
    chosen, left_out = _select(result, options.sarif_include)
    chosen.sort(key=_priority)
    portal = PORTALS.get(result.scope.cloud)
    rules = [_rule(meta, portal) for meta in sorted(result.checks, key=lambda m: m.id)]
    rule_index = {rule["id"]: index for index, rule in enumerate(rules)}
    results = [_result(f, rule_index, result, portal) for f in chosen[:MAX_RESULTS]]
    while True:
        beyond = len(chosen) - len(results)
        counts = LeftOut(beyond, left_out.waived, left_out.baselined, left_out.not_assessed)
        data = _dump(result, options, rules, results, counts)
        size = len(data) if len(data) <= MAX_GZIP_BYTES else len(zlib.compress(data, 6))
        if size <= MAX_GZIP_BYTES or not results:
            return SarifLog(data, len(results), counts)
        keep = min(len(results) - 1, int(len(results) * MAX_GZIP_BYTES / size * 0.95))
        del results[keep:]


def notice(log: SarifLog) -> str | None:
    """One line for the terminal when the SARIF leaves failing findings out, else None."""
    if not log.left_out.total:
        return None
    return f"SARIF: {_left_out_text(log.left_out)} (see the JSON report for every finding)"


def _select(result: ScanResult, include: frozenset[str]) -> tuple[list[Finding], LeftOut]:
    chosen: list[Finding] = []
    waived = baselined = not_assessed = 0
    for finding in result.findings:
        if finding.status is Status.FAIL:
            if finding.waived_by and "waived" not in include:
                waived += 1
            elif finding.baselined and not finding.waived_by and "baselined" not in include:
                baselined += 1
            else:
                chosen.append(finding)
        elif finding.status in (Status.UNKNOWN, Status.ERROR):
            if "unknown" in include:
                chosen.append(finding)
            else:
                not_assessed += 1
    return chosen, LeftOut(0, waived, baselined, not_assessed)


def _priority(finding: Finding) -> tuple[int, int, str, str, str]:
    """Open failures first, then accepted ones, then coverage gaps; worst severity first within each."""
    if finding.status is Status.FAIL:
        kind = 2 if finding.waived_by else 1 if finding.baselined else 0
    else:
        kind = 3 if finding.status is Status.ERROR else 4
    return (kind, -finding.severity.rank, finding.check_id, finding.resource_id.lower(), finding.detail_key or "")


def _dump(result: ScanResult, options: RenderOptions, rules: list[Any], results: list[Any], left_out: LeftOut) -> bytes:
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "mlwarden", "version": result.tool_version, "rules": rules}},
        "invocations": [_invocation(result, left_out)],
        "results": results,
        "properties": {
            "scope": result.scope.description,
            "cloud": result.scope.cloud,
            "subscriptions": list(result.scope.subscriptions),
            "resourceCount": result.resource_count,
            "failOn": result.fail_on.value if result.fail_on else "none",
        },
    }
    if result.baseline is not None:
        run["properties"]["baseline"] = result.baseline.model_dump(mode="json")
    if options.sarif_category is not None:
        run["automationDetails"] = {"id": options.sarif_category}
    log = {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return orjson.dumps(log, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def _rule(meta: CheckMeta, portal: str | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": meta.id,
        "name": meta.title,
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": meta.rationale or meta.title},
        "help": {"text": _help_text(meta), "markdown": _help_markdown(meta, portal)},
        "defaultConfiguration": {"level": LEVEL[meta.severity]},
        "properties": {
            "tags": ["security", *meta.tags][:MAX_TAGS],
            "security-severity": SECURITY_SEVERITY[meta.severity],
            "severity": meta.severity.value,
            "pillar": meta.pillar,
            "azurePolicy": [{"id": guid, "name": POLICY_NAMES.get(guid, "")} for guid in meta.remediation.azure_policy],
        },
    }
    if meta.references:
        rule["helpUri"] = meta.references[0]
    return rule


def _policy_label(guid: str) -> str:
    name = POLICY_NAMES.get(guid)
    return f"{name} ({guid})" if name else guid


def _help_text(meta: CheckMeta) -> str:
    lines = [meta.remediation.text]
    if meta.remediation.az_cli:
        lines.append(f"az: {meta.remediation.az_cli}")
    lines += [f"Azure Policy: {_policy_label(guid)}" for guid in meta.remediation.azure_policy]
    lines += [f"Reference: {url}" for url in meta.references]
    return "\n".join(lines)


def _help_markdown(meta: CheckMeta, portal: str | None) -> str:
    parts = [meta.remediation.text]
    if meta.remediation.az_cli:
        parts.append(f"```bash\n{meta.remediation.az_cli}\n```")
    if meta.remediation.azure_policy:
        parts.append(
            "Azure Policy:\n" + "\n".join(_policy_markdown(guid, portal) for guid in meta.remediation.azure_policy)
        )
    if meta.references:
        parts.append("References:\n" + "\n".join(f"- <{url}>" for url in meta.references))
    return "\n\n".join(parts)


def _policy_markdown(guid: str, portal: str | None) -> str:
    name = POLICY_NAMES.get(guid, "built-in policy definition")
    if portal is None:
        return f"- {name} (`{guid}`)"
    definition = quote(f"/providers/Microsoft.Authorization/policyDefinitions/{guid}", safe="")
    url = f"https://{portal}/#view/Microsoft_Azure_Policy/PolicyDetailBlade/definitionId/{definition}"
    return f"- [{name}]({url}) (`{guid}`)"


def _result(finding: Finding, rule_index: dict[str, int], result: ScanResult, portal: str | None) -> dict[str, Any]:
    url = None if finding.source_file else _portal_url(portal, finding.resource_id)  # a template's is not deployed yet
    level = LEVEL[finding.severity] if finding.status is Status.FAIL else "note"
    properties: dict[str, Any] = {
        "security-severity": SECURITY_SEVERITY[finding.severity],
        "status": finding.status.value,
        "severity": finding.severity.value,
        "failsGate": fails_gate(finding, result.fail_on),
        "resourceType": finding.resource_type,
    }
    if url:
        properties["azurePortalUrl"] = url
    if finding.detail_key:
        properties["detailKey"] = _clip(finding.detail_key, VALUE_LIMIT)
    properties["evidence"] = _evidence(finding)
    out: dict[str, Any] = {
        "ruleId": finding.check_id,
        "level": level,
        "message": {"text": _message(finding, url)},
        "locations": [_location(finding)],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(finding)},
        "properties": properties,
    }
    if result.baseline is not None:  # SARIF 3.27.24: only a run compared against a baseline has a state
        out["baselineState"] = "unchanged" if finding.baselined else "new"
    if finding.check_id in rule_index:
        out["ruleIndex"] = rule_index[finding.check_id]
    if finding.waived_by:
        justification = _clip(finding.waived_by, TEXT_LIMIT)
        out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": justification}]
    return out


def _evidence(finding: Finding) -> list[dict[str, str]]:
    items = [
        {"path": _clip(item.path, VALUE_LIMIT), "value": _clip(evidence_value(item.value), VALUE_LIMIT)}
        for item in finding.evidence[:MAX_EVIDENCE]
    ]
    if len(finding.evidence) > MAX_EVIDENCE:
        items.append({"path": "…", "value": f"{len(finding.evidence) - MAX_EVIDENCE} more in the JSON report"})
    return items


def _fingerprint(finding: Finding) -> str:
    """The finding's own fingerprint, the key baselines and history use; recomputed only if a producer left it empty."""
    return finding.fingerprint or Finding.make_fingerprint(finding.check_id, finding.resource_id, finding.detail_key)


def _portal_url(portal: str | None, resource_id: str) -> str | None:
    if portal is None or not resource_id.startswith("/"):
        return None
    return f"https://{portal}/#@/resource{quote(resource_id, safe='/-._~')}"


def _message(finding: Finding, url: str | None) -> str:
    """Plain text with at most one embedded link; literal brackets are escaped as SARIF requires (3.11.6)."""
    prefix = {Status.UNKNOWN: "Not assessed (coverage gap): ", Status.ERROR: "Check error: "}.get(finding.status, "")
    name = finding.resource_name or finding.resource_id
    text = _escape_link_text(_clip(f"{prefix}{name}: {finding.message}", TEXT_LIMIT))
    return f"{text} [Open in the Azure portal]({url})" if url else text


def _escape_link_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _location(finding: Finding) -> dict[str, Any]:
    if finding.source_file:  # a template or plan: point at its line so code scanning annotates the change
        physical: dict[str, Any] = {"artifactLocation": {"uri": quote(finding.source_file, safe="/-._~")}}
        if finding.source_line:
            physical["region"] = {"startLine": finding.source_line}
        return {
            "physicalLocation": physical,
            "logicalLocations": [
                {
                    "name": _clip(finding.resource_name, VALUE_LIMIT),
                    "fullyQualifiedName": finding.source_address or finding.resource_id,
                    "kind": "resource",
                }
            ],
        }
    return {
        "physicalLocation": {"artifactLocation": {"uri": quote(finding.resource_id.lstrip("/"), safe="/-._~")}},
        "logicalLocations": [
            {
                "name": _clip(finding.resource_name or finding.resource_id.rsplit("/", 1)[-1], VALUE_LIMIT),
                "fullyQualifiedName": finding.resource_id,
                "kind": "resource",
            }
        ],
    }


def _left_out_text(left_out: LeftOut) -> str:
    reasons = [
        (left_out.limit, f"beyond GitHub's limits ({MAX_RESULTS} results, 10 MB gzipped; least severe first)"),
        (left_out.waived, "waived"),
        (left_out.baselined, "baselined"),
    ]
    detail = ", ".join(f"{count} {why}" for count, why in reasons if count)
    return f"{left_out.total} failing finding(s) left out" + (f": {detail}" if detail else "")


def _invocation(result: ScanResult, left_out: LeftOut) -> dict[str, Any]:
    """What the run does not show: coverage gaps (warnings) and the findings left out (always counted)."""
    gaps = result.gaps
    notifications: list[dict[str, Any]] = [
        {
            "level": "warning",
            "message": {"text": _clip(f"{gap.source} could not read {gap.scope}: {gap.reason}", TEXT_LIMIT)},
            "descriptor": {"id": f"coverage-gap/{gap.source}"},
        }
        for gap in gaps[:MAX_GAP_NOTIFICATIONS]
    ]
    if len(gaps) > MAX_GAP_NOTIFICATIONS:
        notifications.append(
            {
                "level": "warning",
                "message": {"text": f"{len(gaps) - MAX_GAP_NOTIFICATIONS} more coverage gap(s) in the JSON report"},
                "descriptor": {"id": "coverage-gap/more"},
            }
        )
    text = _left_out_text(left_out)
    if left_out.not_assessed:
        text += f"; {left_out.not_assessed} not assessed (unknown or error; --sarif-include unknown adds them)"
    notifications.append(
        {
            "level": "warning" if left_out.limit else "note",
            "message": {"text": text + "."},
            "descriptor": {"id": "mlwarden/results-left-out"},
            "properties": {
                "leftOut": left_out.total,
                "limit": left_out.limit,
                "waived": left_out.waived,
                "baselined": left_out.baselined,
                "notAssessed": left_out.not_assessed,
            },
        }
    )
    if result.baseline is not None:
        notifications.append(_baseline_notification(result.baseline))
    # A check error leaves the scan incomplete (exit 3) as a gap does: the run did not fully succeed.
    succeeded = not gaps and not result.status_counts()["error"]
    return {"executionSuccessful": succeeded, "toolExecutionNotifications": notifications}


def _baseline_notification(baseline: BaselineUse) -> dict[str, Any]:
    """What the baseline did: results it marks unchanged, and the accepted findings that no longer fail."""
    text = (
        f"Compared against a baseline of {baseline.accepted} fingerprint(s): {baseline.matched} failing "
        f"finding(s) it accepts are unchanged, the rest are new; {baseline.absent} it accepts no longer fail "
        "(absent, not listed as results)."
    )
    return {"level": "note", "message": {"text": text}, "descriptor": {"id": "mlwarden/baseline"}}


def _clip(text: str, limit: int) -> str:
    """Bound one value so no single estate string can push the log past an upload limit."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"
