"""SARIF 2.1.0: findings as code-scanning alerts (GitHub, Azure DevOps, Defender for DevOps).

An Azure resource is not a file, so each result names the resource twice: as a logical
location (its ARM id, which is what it really is) and as an artifact URI (the ARM id as a
relative reference), because some viewers only display physical locations.
Waived findings stay in the log as suppressed results so a reviewer can see what was accepted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from reports.digest import evidence_value, finding_order
from scanner.models import CheckMeta, Finding, ScanResult, Severity, Status

SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "mlwarden/v1"

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


def render(result: ScanResult, *, include_unknown: bool = True) -> bytes:
    """One run: rules from the result's checks, results for failures (and unknown/error as notes)."""
    rules = [_rule(meta) for meta in sorted(result.checks, key=lambda m: m.id)]
    rule_index = {rule["id"]: index for index, rule in enumerate(rules)}
    wanted = {Status.FAIL, Status.ERROR, Status.UNKNOWN} if include_unknown else {Status.FAIL}
    findings = sorted((f for f in result.findings if f.status in wanted), key=finding_order)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "mlwarden",
                "version": result.tool_version,
                "rules": rules,
            }
        },
        "invocations": [_invocation(result)],
        "results": [_result(finding, rule_index) for finding in findings],
        "properties": {
            "scope": result.scope.description,
            "subscriptions": list(result.scope.subscriptions),
            "resourceCount": result.resource_count,
        },
    }
    log = {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return orjson.dumps(log, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def _rule(meta: CheckMeta) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": meta.id,
        "name": meta.title,
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": meta.rationale or meta.title},
        "help": {"text": _help_text(meta), "markdown": _help_markdown(meta)},
        "defaultConfiguration": {"level": LEVEL[meta.severity]},
        "properties": {
            "tags": ["security", *meta.tags],
            "security-severity": SECURITY_SEVERITY[meta.severity],
            "severity": meta.severity.value,
            "pillar": meta.pillar,
        },
    }
    if meta.references:
        rule["helpUri"] = meta.references[0]
    return rule


def _help_text(meta: CheckMeta) -> str:
    lines = [meta.remediation.text]
    if meta.remediation.az_cli:
        lines.append(f"az: {meta.remediation.az_cli}")
    if meta.remediation.azure_policy:
        lines.append("Azure Policy: " + ", ".join(meta.remediation.azure_policy))
    return "\n".join(lines)


def _help_markdown(meta: CheckMeta) -> str:
    parts = [meta.remediation.text]
    if meta.remediation.az_cli:
        parts.append(f"```bash\n{meta.remediation.az_cli}\n```")
    if meta.remediation.azure_policy:
        parts.append("Azure Policy: " + ", ".join(f"`{policy}`" for policy in meta.remediation.azure_policy))
    return "\n\n".join(parts)


def _result(finding: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    level = LEVEL[finding.severity] if finding.status is Status.FAIL else "note"
    out: dict[str, Any] = {
        "ruleId": finding.check_id,
        "level": level,
        "message": {"text": _message(finding)},
        "locations": [_location(finding)],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(finding)},
        "baselineState": "unchanged" if finding.baselined else "new",
        "properties": {
            "status": finding.status.value,
            "severity": finding.severity.value,
            "resourceType": finding.resource_type,
            "evidence": [{"path": item.path, "value": evidence_value(item.value)} for item in finding.evidence],
        },
    }
    if finding.check_id in rule_index:
        out["ruleIndex"] = rule_index[finding.check_id]
    if finding.waived_by:
        out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": finding.waived_by}]
    return out


def _fingerprint(finding: Finding) -> str:
    """The finding's own fingerprint, the key baselines and history use; recomputed only if a producer left it empty."""
    return finding.fingerprint or Finding.make_fingerprint(finding.check_id, finding.resource_id, finding.detail_key)


def _message(finding: Finding) -> str:
    prefix = {Status.UNKNOWN: "Not assessed (coverage gap): ", Status.ERROR: "Check error: "}.get(finding.status, "")
    return f"{prefix}{finding.resource_name or finding.resource_id}: {finding.message}"


def _location(finding: Finding) -> dict[str, Any]:
    if finding.source_file:  # a template or plan: point at its line so code scanning annotates the change
        physical: dict[str, Any] = {"artifactLocation": {"uri": quote(finding.source_file, safe="/-._~")}}
        if finding.source_line:
            physical["region"] = {"startLine": finding.source_line}
        return {
            "physicalLocation": physical,
            "logicalLocations": [
                {
                    "name": finding.resource_name,
                    "fullyQualifiedName": finding.source_address or finding.resource_id,
                    "kind": "resource",
                }
            ],
        }
    return {
        "physicalLocation": {"artifactLocation": {"uri": quote(finding.resource_id.lstrip("/"), safe="/-._~")}},
        "logicalLocations": [
            {
                "name": finding.resource_name or finding.resource_id.rsplit("/", 1)[-1],
                "fullyQualifiedName": finding.resource_id,
                "kind": "resource",
            }
        ],
    }


def _invocation(result: ScanResult) -> dict[str, Any]:
    """Coverage gaps become warnings on the invocation: part of the scope was not assessed."""
    notifications = [
        {
            "level": "warning",
            "message": {"text": f"{gap.source} could not read {gap.scope}: {gap.reason}"},
            "descriptor": {"id": f"coverage-gap/{gap.source}"},
        }
        for gap in result.gaps
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not notifications}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation
