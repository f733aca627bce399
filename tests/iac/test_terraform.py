"""Terraform plans: azurerm attributes translated to the ARM paths the checks read."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.iac.conftest import by, findings, scan, write

EXAMPLE = Path(__file__).parents[2] / "examples" / "iac" / "ml-platform.tfplan.json"


def plan() -> dict[str, Any]:
    return dict(json.loads(EXAMPLE.read_text()))


def test_example_plan_with_modules_resolves_references_and_lines() -> None:
    found = findings(scan("--terraform-plan", str(EXAMPLE)))
    text = EXAMPLE.read_text().splitlines()
    app = by(found, "MLW-APP-02", "app-lh-scoring")
    assert app["status"] == "fail"
    assert app["source_address"] == "module.serving.azurerm_linux_web_app.scoring"
    assert text[app["source_line"] - 1].strip() == "{"
    assert '"address": "module.serving.azurerm_linux_web_app.scoring"' in text[app["source_line"]]
    # The private endpoint's target is known only after apply; the configuration names the workspace.
    assert by(found, "MLW-MLWS-02", "mlw-lh-prod")["status"] == "pass"
    # The key's vault id is computed too: the key still lands on its vault.
    assert by(found, "MLW-KV-07", "kv-lh-ml-prod")["status"] == "fail"
    assert by(found, "MLW-ST-07", "stlhmlprod")["status"] == "pass"
    assert by(found, "MLW-KV-01", "kv-lh-ml-prod")["status"] == "pass"


def test_computed_values_are_unknown_naming_the_attribute() -> None:
    found = findings(scan("--terraform-plan", str(EXAMPLE)))
    vnet = by(found, "MLW-APP-06", "app-lh-scoring")
    assert vnet["status"] == "unknown"
    assert "virtual_network_subnet_id (known after apply)" in vnet["message"]


def _single(tf_type: str, values: dict[str, Any], unknown: dict[str, Any] | None = None) -> dict[str, Any]:
    address = f"{tf_type}.x"
    return {
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": []}},
        "resource_changes": [
            {
                "address": address,
                "mode": "managed",
                "type": tf_type,
                "name": "x",
                "change": {"actions": ["create"], "after": values, "after_unknown": unknown or {}},
            }
        ],
    }


@pytest.mark.parametrize(
    ("tf_type", "values", "check", "status"),
    [
        ("azurerm_storage_account", {"name": "st", "min_tls_version": "TLS1_0"}, "MLW-ST-02", "fail"),
        ("azurerm_storage_account", {"name": "st", "min_tls_version": "TLS1_2"}, "MLW-ST-02", "pass"),
        ("azurerm_storage_account", {"name": "st", "shared_access_key_enabled": True}, "MLW-ST-07", "fail"),
        ("azurerm_container_registry", {"name": "acr", "admin_enabled": True, "sku": "Premium"}, "MLW-ACR-01", "fail"),
        ("azurerm_container_registry", {"name": "acr", "admin_enabled": False, "sku": "Premium"}, "MLW-ACR-01", "pass"),
        ("azurerm_key_vault", {"name": "kv", "purge_protection_enabled": False}, "MLW-KV-01", "fail"),
        ("azurerm_key_vault", {"name": "kv", "rbac_authorization_enabled": True}, "MLW-KV-03", "pass"),
        (
            "azurerm_cognitive_account",
            {"name": "ai", "kind": "OpenAI", "local_auth_enabled": True},
            "MLW-AI-01",
            "fail",
        ),
        (
            "azurerm_cognitive_account",
            {"name": "ai", "kind": "OpenAI", "local_auth_enabled": False},
            "MLW-AI-01",
            "pass",
        ),
        ("azurerm_kubernetes_cluster", {"name": "aks", "local_account_disabled": True}, "MLW-AKS-03", "pass"),
        ("azurerm_kubernetes_cluster", {"name": "aks", "private_cluster_enabled": False}, "MLW-AKS-01", "fail"),
        (
            "azurerm_machine_learning_workspace",
            {"name": "w", "public_network_access_enabled": False},
            "MLW-MLWS-01",
            "pass",
        ),
        ("azurerm_linux_web_app", {"name": "a", "https_only": False}, "MLW-APP-01", "fail"),
        ("azurerm_windows_function_app", {"name": "f", "https_only": True}, "MLW-APP-01", "pass"),
    ],
)
def test_attribute_tables(tmp_path: Path, tf_type: str, values: dict[str, Any], check: str, status: str) -> None:
    path = write(tmp_path / "plan.json", _single(tf_type, values))
    assert by(findings(scan("--terraform-plan", str(path))), check)["status"] == status


def test_deleted_resources_are_not_judged_and_data_sources_are_ignored(tmp_path: Path) -> None:
    doc = _single("azurerm_storage_account", {"name": "st", "min_tls_version": "TLS1_0"})
    doc["resource_changes"][0]["change"] = {"actions": ["delete"], "before": {"name": "st"}, "after": None}
    doc["resource_changes"].append({**copy.deepcopy(doc["resource_changes"][0]), "mode": "data", "address": "data.x"})
    found = findings(scan("--terraform-plan", str(write(tmp_path / "p.json", doc))))
    assert not [f for f in found if f["check_id"].startswith("MLW-ST-")]


def test_compute_is_attached_to_its_workspace(tmp_path: Path) -> None:
    doc = _single("azurerm_machine_learning_workspace", {"name": "w", "resource_group_name": "rg"})
    doc["resource_changes"].append(
        {
            "address": "azurerm_machine_learning_compute_cluster.c",
            "mode": "managed",
            "type": "azurerm_machine_learning_compute_cluster",
            "name": "c",
            "change": {
                "actions": ["create"],
                "after": {"name": "cpu", "local_auth_enabled": False, "node_public_ip_enabled": True},
                "after_unknown": {"machine_learning_workspace_id": True},
            },
        }
    )
    doc["configuration"] = {
        "root_module": {
            "resources": [
                {
                    "address": "azurerm_machine_learning_compute_cluster.c",
                    "expressions": {
                        "machine_learning_workspace_id": {
                            "references": [
                                "azurerm_machine_learning_workspace.x.id",
                                "azurerm_machine_learning_workspace.x",
                            ]
                        }
                    },
                }
            ]
        }
    }
    found = findings(scan("--terraform-plan", str(write(tmp_path / "p.json", doc))))
    local = by(found, "MLW-MLCMP-01", "cpu")
    assert local["status"] == "pass"
    assert "/workspaces/w/computes/cpu" in local["resource_id"]
    assert by(found, "MLW-MLCMP-03", "cpu")["status"] == "fail"


@pytest.mark.parametrize("content", ['{"format_version": "1.2"}', "[]", "{broken"])
def test_not_a_plan_is_one_line_exit_2(tmp_path: Path, content: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)
    result = scan("--terraform-plan", str(path))
    assert result.exit_code == 2 and "plan.json" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("os_type", ["Windows", "Linux"])
def test_a_windows_node_pool_is_not_judged_for_ssh(tmp_path: Path, os_type: str) -> None:
    """azurerm_kubernetes_cluster_node_pool's os_type reaches the pool: AKS cannot turn SSH off on
    Windows Server pools, so MLW-AKS-19 leaves them out as it does in a template or a live scan."""
    doc = _single("azurerm_kubernetes_cluster", {"name": "aks", "default_node_pool": [{"name": "system"}]})
    doc["resource_changes"].append(
        {
            "address": "azurerm_kubernetes_cluster_node_pool.win",
            "mode": "managed",
            "type": "azurerm_kubernetes_cluster_node_pool",
            "name": "win",
            "change": {
                "actions": ["create"],
                "after": {"name": "win", "os_type": os_type},
                "after_unknown": {"kubernetes_cluster_id": True},
            },
        }
    )
    doc["configuration"] = {
        "root_module": {
            "resources": [
                {
                    "address": "azurerm_kubernetes_cluster_node_pool.win",
                    "expressions": {
                        "kubernetes_cluster_id": {
                            "references": ["azurerm_kubernetes_cluster.x.id", "azurerm_kubernetes_cluster.x"]
                        }
                    },
                }
            ]
        }
    }
    verdict = by(findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", doc)))), "MLW-AKS-19")
    assert verdict["status"] == "fail"  # the system pool: the provider sets no SSH access, so local keys stay on
    if os_type == "Windows":
        assert verdict["message"].startswith("node pools accept SSH with local keys: system;"), verdict["message"]
        assert "Windows pools not judged" in verdict["message"] and verdict["message"].endswith(": win")
    else:
        assert verdict["message"] == "node pools accept SSH with local keys: system, win"
