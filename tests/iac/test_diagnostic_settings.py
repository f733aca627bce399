"""Diagnostic settings declared in a template or plan are judged like live ones; a resource the
template declares none for is not applicable (they are often deployed apart from it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.iac.conftest import by, findings, scan, template, write
from tests.iac.test_deploy_time import VAULT, VAULT_ID, _plan, _vault

LAW = "[resourceId('Microsoft.OperationalInsights/workspaces', 'law-ml')]"
AUDIT = {"workspaceId": LAW, "logs": [{"categoryGroup": "audit", "enabled": True}]}
METRICS_ONLY = {"workspaceId": LAW, "metrics": [{"category": "AllMetrics", "enabled": True}]}
WORKSPACE = {
    "type": "Microsoft.MachineLearningServices/workspaces",
    "apiVersion": "2024-04-01",
    "name": "mlw",
    "location": "westeurope",
    "identity": {"type": "SystemAssigned"},
    "properties": {"publicNetworkAccess": "Disabled"},
}


def scoped(scope: str, properties: dict[str, Any], name: str = "kv-audit") -> dict[str, Any]:
    """What `az bicep build` writes for `resource diag '...diagnosticSettings' = { scope: kv ... }`."""
    return {
        "type": "Microsoft.Insights/diagnosticSettings",
        "apiVersion": "2021-05-01-preview",
        "scope": scope,
        "name": name,
        "properties": properties,
    }


def provider_child(properties: dict[str, Any]) -> dict[str, Any]:
    """The older quickstarts: `TYPE/providers/diagnosticSettings` named `target/Microsoft.Insights/NAME`."""
    return {
        "type": "Microsoft.KeyVault/vaults/providers/diagnosticSettings",
        "apiVersion": "2017-05-01-preview",
        "name": "[concat('kv-ml', '/Microsoft.Insights/', 'service')]",
        "dependsOn": ["[resourceId('Microsoft.KeyVault/vaults', 'kv-ml')]"],
        "properties": properties,
    }


def nested(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        **VAULT,
        "resources": [
            {
                "type": "providers/diagnosticSettings",
                "apiVersion": "2021-05-01-preview",
                "name": "Microsoft.Insights/service",
                "properties": properties,
            }
        ],
    }


@pytest.mark.parametrize(
    ("resources", "status"),
    [
        ((VAULT, scoped("[format('Microsoft.KeyVault/vaults/{0}', 'kv-ml')]", AUDIT)), "pass"),
        ((VAULT, scoped("[resourceId('Microsoft.KeyVault/vaults', 'kv-ml')]", AUDIT)), "pass"),
        ((VAULT, scoped("Microsoft.KeyVault/vaults/kv-ml", METRICS_ONLY)), "fail"),
        ((VAULT, provider_child({"workspaceId": LAW, "logs": [{"category": "AuditEvent", "enabled": True}]})), "pass"),
        ((nested(AUDIT),), "pass"),
        ((nested(METRICS_ONLY),), "fail"),
        (
            (nested({"workspaceId": LAW, "logs": [{"categoryGroup": "audit", "enabled": "[parameters('on')]"}]}),),
            "unknown",
        ),
        ((VAULT,), "not_applicable"),
        # attached to a resource known only at deployment: the vault is not seen to have one
        ((VAULT, scoped("[parameters('target')]", AUDIT)), "not_applicable"),
    ],
)
def test_template_diagnostic_settings_are_judged(tmp_path: Path, resources: Any, status: str) -> None:
    parameters = {"on": {"type": "bool"}, "target": {"type": "string"}}
    found = findings(
        scan("--template", str(write(tmp_path / "main.json", template(*resources, parameters=parameters))))
    )
    verdict = by(found, "MLW-KV-10")
    assert verdict["status"] == status, verdict["message"]
    if status == "not_applicable":
        assert "live scan" in verdict["message"]


def test_workspace_logs_from_a_bicep_scoped_setting(tmp_path: Path) -> None:
    sends = scoped(
        "[resourceId('Microsoft.MachineLearningServices/workspaces', 'mlw')]",
        {"workspaceId": LAW, "logs": [{"categoryGroup": "allLogs", "enabled": True}]},
        "mlw-logs",
    )
    found = findings(scan("--template", str(write(tmp_path / "main.json", template(WORKSPACE, sends)))))
    assert by(found, "MLW-MLWS-08")["status"] == "pass"
    silent = scoped("[resourceId('Microsoft.MachineLearningServices/workspaces', 'mlw')]", METRICS_ONLY, "mlw-logs")
    found = findings(scan("--template", str(write(tmp_path / "main.json", template(WORKSPACE, silent)))))
    assert by(found, "MLW-MLWS-08")["status"] == "fail"


def _setting(
    after: dict[str, Any], unknown: dict[str, Any] | None = None
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    values = {
        "name": "kv-audit",
        "log_analytics_workspace_id": "/subscriptions/s/resourceGroups/rg/providers/"
        "Microsoft.OperationalInsights/workspaces/law",
        **after,
    }
    return ("azurerm_monitor_diagnostic_setting", "kv", values, {"id": True, **(unknown or {})})


@pytest.mark.parametrize(
    ("after", "unknown", "status"),
    [
        ({"target_resource_id": VAULT_ID, "enabled_log": [{"category_group": "audit"}]}, {}, "pass"),
        ({"target_resource_id": VAULT_ID, "enabled_log": [{"category": "AuditEvent"}]}, {}, "pass"),
        # provider 3.x's deprecated `log` block says whether it is enabled
        ({"target_resource_id": VAULT_ID, "log": [{"category": "AuditEvent", "enabled": False}]}, {}, "fail"),
        ({"target_resource_id": VAULT_ID, "enabled_metric": [{"category": "AllMetrics"}]}, {}, "fail"),
        ({"target_resource_id": VAULT_ID}, {"enabled_log": True}, "unknown"),
    ],
)
def test_plan_diagnostic_settings_are_judged(tmp_path: Path, after: Any, unknown: Any, status: str) -> None:
    plan = _plan(_vault(), _setting(after, unknown))
    verdict = by(findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan)))), "MLW-KV-10")
    assert verdict["status"] == status, verdict["message"]


def test_plan_setting_finds_its_target_known_after_apply_through_the_configuration(tmp_path: Path) -> None:
    plan = _plan(_vault(), _setting({"enabled_log": [{"category_group": "allLogs"}]}, {"target_resource_id": True}))
    plan["configuration"] = {
        "root_module": {
            "resources": [
                {
                    "address": "azurerm_monitor_diagnostic_setting.kv",
                    "expressions": {
                        "target_resource_id": {"references": ["azurerm_key_vault.kv.id", "azurerm_key_vault.kv"]}
                    },
                }
            ]
        }
    }
    found = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan))))
    assert by(found, "MLW-KV-10")["status"] == "pass"
    no_setting = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", _plan(_vault())))))
    assert by(no_setting, "MLW-KV-10")["status"] == "not_applicable"
