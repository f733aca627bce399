"""A Managed HSM's own settings are judged like a vault's: purge protection (MLW-KV-01), soft delete
(-02), public network access (-04), firewall (-05), private link (-06) and audit logs (-10).

Three HSMs, written three ways (a snapshot of live rows, an ARM template, a Terraform plan), get the
same verdicts: one locked down, one open to the internet and purgeable, one that states nothing (each
property's documented default: purge protection and public access as Azure Policy reads them, soft
delete always on). Property paths and defaults: `Microsoft.KeyVault/managedHSMs` REST spec 2023-07-01.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from scanner.cli import cli
from scanner.inventory import ALL_SOURCES, Inventory, SnapshotHeader
from scanner.models import Resource, SourceCoverage, Status
from scanner.snapshot import write_snapshot
from tests.helpers import resource, rid, status
from tests.iac.conftest import findings, scan, template, write

HSM_TYPE = "Microsoft.KeyVault/managedHSMs"
SETTINGS_CHECKS = ("MLW-KV-01", "MLW-KV-02", "MLW-KV-04", "MLW-KV-05", "MLW-KV-06", "MLW-KV-10")
PASS, FAIL, NA = "pass", "fail", "not_applicable"
EXPECTED: dict[str, dict[str, str]] = {
    "hsm-hardened": dict.fromkeys(SETTINGS_CHECKS, PASS),
    # soft delete cannot be switched off on an HSM: even the open one passes MLW-KV-02
    "hsm-open": {**dict.fromkeys(SETTINGS_CHECKS, FAIL), "MLW-KV-02": PASS},
    "hsm-bare": {**dict.fromkeys(SETTINGS_CHECKS, FAIL), "MLW-KV-02": PASS},
}
MESSAGES = {
    ("hsm-open", "MLW-KV-01"): "purge protection is disabled",
    ("hsm-bare", "MLW-KV-01"): "purge protection is not set (Azure Policy c39ba22d requires it true)",
    ("hsm-hardened", "MLW-KV-02"): "soft delete is always on for a Managed HSM and cannot be disabled",
    ("hsm-bare", "MLW-KV-02"): "soft delete is always on for a Managed HSM and cannot be disabled",
    ("hsm-open", "MLW-KV-04"): "public network access is Enabled",
    ("hsm-bare", "MLW-KV-04"): "public network access is not set (the default is Enabled)",
    ("hsm-open", "MLW-KV-05"): "public network access is open and the firewall default action is Allow",
    ("hsm-bare", "MLW-KV-05"): "public network access is open and the firewall default action is Allow (not set)",
    ("hsm-hardened", "MLW-KV-06"): "the Managed HSM has an approved private endpoint",
    ("hsm-open", "MLW-KV-06"): "the Managed HSM's private endpoint connections are not approved",
    ("hsm-bare", "MLW-KV-06"): "the Managed HSM has no private endpoint",
}
KINDS_NOT_EXTENDED = ("MLW-KV-03", "MLW-KV-09", "MLW-KV-12")
"""An HSM has only local RBAC (no access-policy model), no secrets and no access policies."""


def _verdicts(found: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for f in found:
        if f["resource_type"].lower() == HSM_TYPE.lower() and f["check_id"] in SETTINGS_CHECKS:
            assert f["check_id"] not in out.get(f["resource_name"], {}), f
            out.setdefault(f["resource_name"], {})[f["check_id"]] = f["status"]
    return out


def _messages(found: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(f["resource_name"], f["check_id"]): f["message"] for f in found if f["resource_type"] == HSM_TYPE.lower()}


def _assert_judged(found: list[dict[str, Any]], bare_logs: str, **said: str) -> None:
    """`said`: a message this source words otherwise, by check id (for hsm-bare)."""
    expected = {name: dict(checks) for name, checks in EXPECTED.items()}
    expected["hsm-bare"]["MLW-KV-10"] = bare_logs
    assert _verdicts(found) == expected
    messages = _messages(found)
    for where, message in {**MESSAGES, **{("hsm-bare", c.replace("_", "-")): m for c, m in said.items()}}.items():
        assert messages[where] == message, where
    hsm_checks = {f["check_id"] for f in found if f["resource_type"] == HSM_TYPE.lower()}
    assert not hsm_checks & set(KINDS_NOT_EXTENDED)


# ---------------------------------------------------------------------------------------------- snapshot


def _hsm_row(name: str, properties: dict[str, Any]) -> Resource:
    base = {
        "tenantId": "00000000-0000-0000-0000-00000000aaaa",
        "initialAdminObjectIds": ["00000000-0000-0000-0000-00000000a001"],
        "hsmUri": f"https://{name}.managedhsm.azure.net/",
        "provisioningState": "Succeeded",
        "securityDomainProperties": {"activationStatus": "Active", "activationStatusMessage": "Your HSM is active."},
    }
    return resource(HSM_TYPE, name, {**base, **properties}, sku={"family": "B", "name": "Standard_B1"})


def _connection(name: str, status: str) -> dict[str, Any]:
    endpoint = rid("Microsoft.Network/privateEndpoints", f"pe-{name}")
    return {
        "id": f"{rid(HSM_TYPE, name)}/privateEndpointConnections/pe-{name}",
        "etag": "",
        "properties": {
            "privateEndpoint": {"id": endpoint},
            "privateLinkServiceConnectionState": {"status": status, "description": "", "actionsRequired": "None"},
            "provisioningState": "Succeeded",
        },
    }


def _setting(hsm: str, logs: list[dict[str, Any]]) -> Resource:
    setting_id = f"{rid(HSM_TYPE, hsm)}/providers/microsoft.insights/diagnosticSettings/to-law"
    law = rid("Microsoft.OperationalInsights/workspaces", "law-sec")
    metrics = [{"category": "AllMetrics", "enabled": True}]
    properties = {"workspaceId": law, "logs": logs, "metrics": metrics}
    return resource("Microsoft.Insights/diagnosticSettings", "to-law", properties, id=setting_id)


def snapshot_rows() -> list[Resource]:
    hardened = {
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": 90,
        "enablePurgeProtection": True,
        "publicNetworkAccess": "Disabled",
        "networkAcls": {"bypass": "None", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
        "privateEndpointConnections": [_connection("hsm-hardened", "Approved")],
    }
    opened = {
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": 7,
        "enablePurgeProtection": False,
        "publicNetworkAccess": "Enabled",
        "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": []},
        "privateEndpointConnections": [_connection("hsm-open", "Pending")],
    }
    return [
        _hsm_row("hsm-hardened", hardened),
        _hsm_row("hsm-open", opened),
        _hsm_row("hsm-bare", {}),
        _setting("hsm-hardened", [{"category": "AuditEvent", "categoryGroup": None, "enabled": True}]),
        _setting("hsm-open", [{"category": "AuditEvent", "categoryGroup": None, "enabled": False}]),
    ]


def test_snapshot_hsms_are_judged_on_their_own_settings(tmp_path: Path) -> None:
    sources = tuple(SourceCoverage(name=name, collected=True) for name in ALL_SOURCES)
    header = SnapshotHeader(tool_version="test", collected_at=datetime(2026, 11, 1, tzinfo=UTC), sources=sources)
    snapshot = tmp_path / "estate.jsonl"
    write_snapshot(Inventory(header=header, resources=snapshot_rows()), snapshot)
    out = tmp_path / "out"
    args = ["scan", "--snapshot", str(snapshot), "--format", "json", "--out", str(out), "--fail-on", "none"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found = json.loads((out / "mlwarden-report.json").read_text())["findings"]
    _assert_judged(found, bare_logs=FAIL)  # a live HSM with no diagnostic setting logs nothing
    messages = _messages(found)
    assert messages[("hsm-bare", "MLW-KV-10")] == "the Managed HSM has no diagnostic settings"
    assert messages[("hsm-hardened", "MLW-KV-10")] == "audit logs are sent by diagnostic setting to-law"


def test_an_hsm_reporting_soft_delete_off_fails() -> None:
    """The service makes it immutable, but a row that says false is not passed on that belief."""
    assert status("MLW-KV-02", _hsm_row("hsm-x", {"enableSoftDelete": False})) is Status.FAIL


def test_finding_titles_and_policies_name_the_hsm_definitions() -> None:
    from scanner.registry import load_checks

    checks = load_checks(plugins=False)
    policies = {check_id: checks[check_id].meta.remediation.azure_policy for check_id in checks}
    assert "c39ba22d-4428-4149-b981-70acb31fc383" in policies["MLW-KV-01"]
    assert "19ea9d63-adee-4431-a95e-1913c6c1c75f" in policies["MLW-KV-05"]
    assert "59fee2f4-d439-4f1b-9b9a-982e1474bfd8" in policies["MLW-KV-06"]
    assert "1d478a74-21ba-4b9f-9d8f-8e6fced0eec5" in policies["MLW-KV-07"]
    assert "a2a5b911-5617-447e-a49e-59dbe0e0434b" in policies["MLW-KV-10"]
    for check_id in KINDS_NOT_EXTENDED:
        assert checks[check_id].meta.kinds == ("keyvault",), check_id


# ---------------------------------------------------------------------------------------------- ARM template

_HSM_ID = "[resourceId('Microsoft.KeyVault/managedHSMs', '{}')]"


def _hsm_resource(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": HSM_TYPE,
        "apiVersion": "2023-07-01",
        "name": name,
        "location": "westeurope",
        "sku": {"family": "B", "name": "Standard_B1"},
        "properties": {
            "tenantId": "[subscription().tenantId]",
            "initialAdminObjectIds": ["00000000-0000-0000-0000-00000000a001"],
            **properties,
        },
    }


def _endpoint(hsm: str, *, manual: bool) -> dict[str, Any]:
    connection = {
        "name": f"to-{hsm}",
        "properties": {"privateLinkServiceId": _HSM_ID.format(hsm), "groupIds": ["managedhsm"]},
    }
    key = "manualPrivateLinkServiceConnections" if manual else "privateLinkServiceConnections"
    return {
        "type": "Microsoft.Network/privateEndpoints",
        "apiVersion": "2023-11-01",
        "name": f"pe-{hsm}",
        "location": "westeurope",
        "dependsOn": [_HSM_ID.format(hsm)],
        "properties": {
            "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet-sec', 'pe')]"},
            key: [connection],
        },
    }


def _diagnostic(hsm: str, properties: dict[str, Any]) -> dict[str, Any]:
    """What `az bicep build` writes for `resource diag '...diagnosticSettings' = { scope: hsm ... }`."""
    return {
        "type": "Microsoft.Insights/diagnosticSettings",
        "apiVersion": "2021-05-01-preview",
        "scope": f"Microsoft.KeyVault/managedHSMs/{hsm}",
        "name": "to-law",
        "dependsOn": [_HSM_ID.format(hsm)],
        "properties": {
            "workspaceId": "[resourceId('Microsoft.OperationalInsights/workspaces', 'law-sec')]",
            **properties,
        },
    }


def template_resources() -> list[dict[str, Any]]:
    return [
        _hsm_resource(
            "hsm-hardened",
            {
                "enableSoftDelete": True,
                "softDeleteRetentionInDays": 90,
                "enablePurgeProtection": True,
                "publicNetworkAccess": "Disabled",
                "networkAcls": {"bypass": "None", "defaultAction": "Deny"},
            },
        ),
        _hsm_resource(
            "hsm-open",
            {
                "enablePurgeProtection": False,
                "publicNetworkAccess": "Enabled",
                "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow"},
            },
        ),
        _hsm_resource("hsm-bare", {}),
        _endpoint("hsm-hardened", manual=False),
        _endpoint("hsm-open", manual=True),
        _diagnostic("hsm-hardened", {"logs": [{"categoryGroup": "audit", "enabled": True}]}),
        _diagnostic("hsm-open", {"metrics": [{"category": "AllMetrics", "enabled": True}]}),
    ]


def test_template_hsms_get_the_snapshots_verdicts(tmp_path: Path) -> None:
    found = findings(scan("--template", str(write(tmp_path / "main.json", template(*template_resources())))))
    # a template that declares no diagnostic setting for it says nothing of one deployed apart
    _assert_judged(found, bare_logs=NA)


def test_template_hsm_stating_soft_delete_off_fails(tmp_path: Path) -> None:
    hsm = _hsm_resource("hsm-x", {"enableSoftDelete": False, "enablePurgeProtection": True})
    found = findings(scan("--template", str(write(tmp_path / "main.json", template(hsm)))))
    assert _verdicts(found)["hsm-x"]["MLW-KV-02"] == FAIL


def test_an_hsm_outside_the_template_is_unknown_not_failed(tmp_path: Path) -> None:
    """A key created in an HSM the template does not declare: the HSM's settings are not in the input."""
    key = {
        "type": "Microsoft.KeyVault/managedHSMs/keys",
        "apiVersion": "2023-07-01",
        "name": "hsm-shared/cmk-ml",
        "properties": {"kty": "RSA-HSM", "keySize": 3072, "attributes": {"exp": 1893456000}},
    }
    found = findings(scan("--template", str(write(tmp_path / "main.json", template(key)))))
    verdicts = _verdicts(found)["hsm-shared"]
    assert {k: v for k, v in verdicts.items() if k != "MLW-KV-02"} == {
        "MLW-KV-01": "unknown",
        "MLW-KV-04": "unknown",
        "MLW-KV-05": "unknown",
        "MLW-KV-06": "unknown",
        "MLW-KV-10": NA,
    }
    assert verdicts["MLW-KV-02"] == PASS  # always on, wherever the HSM is deployed
    message = next(f["message"] for f in found if f["check_id"] == "MLW-KV-01")
    assert "a Managed HSM outside the template" in message
