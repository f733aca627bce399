"""A workspace whose storage account or customer-managed key is known only at deployment may use
any account or key of the template: the checks that apply only to what ML uses are `unknown`
naming the link, never a silent not-applicable; a link that is known is judged as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.iac.conftest import by, findings, scan, template, write

VAULT_ID = "[resourceId('Microsoft.KeyVault/vaults', 'kv-ml')]"
PARAMETERS = {"storageId": {"type": "string"}, "keyId": {"type": "string"}}
VAULT = {
    "type": "Microsoft.KeyVault/vaults",
    "apiVersion": "2023-07-01",
    "name": "kv-ml",
    "location": "westeurope",
    "properties": {
        "tenantId": "[subscription().tenantId]",
        "sku": {"family": "A", "name": "premium"},
        "enablePurgeProtection": True,
        "accessPolicies": [
            {
                "tenantId": "[subscription().tenantId]",
                "objectId": "11111111-1111-1111-1111-111111111111",
                "permissions": {"keys": ["all"]},
            }
        ],
    },
}
KEY = {
    "type": "Microsoft.KeyVault/vaults/keys",
    "apiVersion": "2023-07-01",
    "name": "kv-ml/cmk",
    "properties": {"kty": "RSA"},
}


def _storage(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Microsoft.Storage/storageAccounts",
        "apiVersion": "2023-05-01",
        "name": name,
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "properties": {"allowBlobPublicAccess": True, "minimumTlsVersion": "TLS1_0"},
        **extra,
    }


def _workspace(storage: str, key: str | None = None, key_vault: str = VAULT_ID) -> dict[str, Any]:
    properties: dict[str, Any] = {"storageAccount": storage, "keyVault": VAULT_ID}
    if key is not None:
        properties["encryption"] = {
            "status": "Enabled",
            "keyVaultProperties": {"keyVaultArmId": key_vault, "keyIdentifier": key},
        }
    return {
        "type": "Microsoft.MachineLearningServices/workspaces",
        "apiVersion": "2024-04-01",
        "name": "mlw",
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": properties,
    }


def _scan(tmp_path: Path, *resources: dict[str, Any]) -> list[dict[str, Any]]:
    return findings(scan("--template", str(write(tmp_path / "main.json", template(*resources, parameters=PARAMETERS)))))


def test_storage_known_only_at_deployment_is_unknown_not_not_applicable(tmp_path: Path) -> None:
    found = _scan(tmp_path, _storage("stml"), _workspace("[parameters('storageId')]"))
    containers = by(found, "MLW-ST-11")
    assert containers["status"] == "unknown", containers["message"]
    assert "mlw.properties.storageAccount is [parameters('storageId') has no value]" in containers["message"]


def test_a_known_storage_link_is_judged_and_others_stay_not_applicable(tmp_path: Path) -> None:
    storage = "[resourceId('Microsoft.Storage/storageAccounts', 'stml')]"
    found = _scan(tmp_path, _storage("stml"), _storage("stother"), _workspace(storage))
    assert by(found, "MLW-ST-11", "stml")["status"] == "pass"  # judged: no container declared is public
    assert by(found, "MLW-ST-11", "stother")["status"] == "not_applicable"


def test_cloud_shell_storage_is_judged_when_ml_may_use_it(tmp_path: Path) -> None:
    shell = _storage("stshell", tags={"ms-resource-usage": "azure-cloud-shell"})
    found = _scan(tmp_path, shell, _workspace("[parameters('storageId')]"))
    assert by(found, "MLW-ST-02", "stshell")["status"] == "fail"
    found = _scan(tmp_path, shell, _workspace("[resourceId('Microsoft.Storage/storageAccounts', 'stml')]"))
    assert by(found, "MLW-ST-02", "stshell")["status"] == "not_applicable"


@pytest.mark.parametrize(
    ("key", "key_vault", "status"),
    [
        ("[parameters('keyId')]", VAULT_ID, "unknown"),  # some key of this vault, which one is unknown
        ("[parameters('keyId')]", "[parameters('storageId')]", "unknown"),  # any vault's key
        # the vault is known and another one: no key here is the workspace's
        ("[parameters('keyId')]", "[resourceId('Microsoft.KeyVault/vaults', 'kv-other')]", "not_applicable"),
        ("https://kv-other.vault.azure.net/keys/cmk", VAULT_ID, "not_applicable"),
    ],
)
def test_cmk_known_only_at_deployment(tmp_path: Path, key: str, key_vault: str, status: str) -> None:
    storage = "[resourceId('Microsoft.Storage/storageAccounts', 'stml')]"
    found = _scan(tmp_path, VAULT, KEY, _storage("stml"), _workspace(storage, key, key_vault))
    hsm = [f for f in found if f["check_id"] == "MLW-KV-11" and f.get("detail_key") == "cmk"]
    purge = by(found, "MLW-KV-12")
    assert (hsm[0]["status"], purge["status"]) == (status, status), (hsm[0]["message"], purge["message"])
    if status == "unknown":
        assert "mlw.customerManagedKey is [parameters('keyId') has no value]" in purge["message"]


def test_a_known_cmk_is_judged(tmp_path: Path) -> None:
    storage = "[resourceId('Microsoft.Storage/storageAccounts', 'stml')]"
    workspace = _workspace(storage, "https://kv-ml.vault.azure.net/keys/cmk", VAULT_ID)
    found = _scan(tmp_path, VAULT, KEY, _storage("stml"), workspace)
    assert [f["status"] for f in found if f["check_id"] == "MLW-KV-11"] == ["fail"]
    assert by(found, "MLW-KV-12")["status"] == "fail"


def _module_plan(output_references: list[str] | None) -> dict[str, Any]:
    """A root workspace whose `storage_account_id = module.data.account_id`, the account in the module."""
    storage = {
        "address": "module.data.azurerm_storage_account.st",
        "module_address": "module.data",
        "mode": "managed",
        "type": "azurerm_storage_account",
        "name": "st",
        "change": {
            "actions": ["create"],
            "before": None,
            "after": {
                "name": "stmlplan",
                "resource_group_name": "rg-ml",
                "location": "westeurope",
                "allow_nested_items_to_be_public": True,
            },
            "after_unknown": {"id": True},
        },
    }
    workspace = {
        "address": "azurerm_machine_learning_workspace.ws",
        "mode": "managed",
        "type": "azurerm_machine_learning_workspace",
        "name": "ws",
        "change": {
            "actions": ["create"],
            "before": None,
            "after": {"name": "mlw-plan", "resource_group_name": "rg-ml", "location": "westeurope"},
            "after_unknown": {"id": True, "storage_account_id": True},
        },
    }
    outputs = {"account_id": {"expression": {"references": output_references}}} if output_references else {}
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "resource_changes": [storage, workspace],
        "configuration": {
            "root_module": {
                "resources": [
                    {
                        "address": "azurerm_machine_learning_workspace.ws",
                        "expressions": {
                            "storage_account_id": {"references": ["module.data.account_id", "module.data"]}
                        },
                    }
                ],
                "module_calls": {
                    "data": {
                        "source": "./modules/data",
                        "module": {
                            "outputs": outputs,
                            "resources": [{"address": "azurerm_storage_account.st", "expressions": {}}],
                        },
                    }
                },
            }
        },
    }


def test_plan_storage_link_through_a_module_output(tmp_path: Path) -> None:
    """`module.data.account_id` is followed to the module's `azurerm_storage_account.st.id`; an
    output that cannot be followed leaves the link unknown, and so the account's ML-only checks."""
    resolved = _module_plan(["azurerm_storage_account.st.id", "azurerm_storage_account.st"])
    found = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", resolved))))
    assert by(found, "MLW-ST-11", "stmlplan")["status"] == "pass"
    opaque = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", _module_plan(None)))))
    verdict = by(opaque, "MLW-ST-11", "stmlplan")
    assert verdict["status"] == "unknown", verdict["message"]
    assert "storage_account_id (known after apply)" in verdict["message"]


def _create(address: str, after: dict[str, Any], unknown: dict[str, Any]) -> dict[str, Any]:
    tf_type, name = address.split(".")
    change = {"actions": ["create"], "before": None, "after": after, "after_unknown": {"id": True, **unknown}}
    return {"address": address, "mode": "managed", "type": tf_type, "name": name, "change": change}


def _refers(attribute: str) -> dict[str, Any]:
    return {"references": [attribute, attribute.rsplit(".", 1)[0]]}


def test_plan_cmk_references_find_the_key_they_name(tmp_path: Path) -> None:
    """`key_id = azurerm_key_vault_key.cmk.id` is the key's URL once applied, not its ARM id: the
    workspace, the storage account (inline block or `_customer_managed_key`) and the key meet."""
    group = {"resource_group_name": "rg-ml", "location": "westeurope"}
    changes = [
        _create("azurerm_key_vault.kv", {**group, "name": "kv-plan", "tenant_id": "t", "sku_name": "premium"}, {}),
        _create(
            "azurerm_key_vault_key.cmk", {"name": "cmk", "key_type": "RSA", "key_size": 3072}, {"key_vault_id": True}
        ),
        _create(
            "azurerm_storage_account.st",
            {**group, "name": "stinline", "customer_managed_key": [{"key_vault_key_id": None}]},
            {"customer_managed_key": [{"key_vault_key_id": True}]},
        ),
        _create("azurerm_storage_account.other", {**group, "name": "stseparate"}, {}),
        _create(
            "azurerm_storage_account_customer_managed_key.other",
            {"key_name": "cmk"},
            {"storage_account_id": True, "key_vault_id": True},
        ),
        _create(
            "azurerm_machine_learning_workspace.ws",
            {**group, "name": "mlw-plan", "encryption": [{"key_vault_id": None, "key_id": None}]},
            {"storage_account_id": True, "encryption": [{"key_vault_id": True, "key_id": True}]},
        ),
    ]
    expressions = {
        "azurerm_key_vault_key.cmk": {"key_vault_id": _refers("azurerm_key_vault.kv.id")},
        "azurerm_storage_account.st": {
            "customer_managed_key": [{"key_vault_key_id": _refers("azurerm_key_vault_key.cmk.id")}]
        },
        "azurerm_storage_account_customer_managed_key.other": {
            "storage_account_id": _refers("azurerm_storage_account.other.id"),
            "key_vault_id": _refers("azurerm_key_vault.kv.id"),
        },
        "azurerm_machine_learning_workspace.ws": {
            "storage_account_id": _refers("azurerm_storage_account.st.id"),
            "encryption": [
                {"key_vault_id": _refers("azurerm_key_vault.kv.id"), "key_id": _refers("azurerm_key_vault_key.cmk.id")}
            ],
        },
    }
    plan = {
        "format_version": "1.2",
        "resource_changes": changes,
        "configuration": {
            "root_module": {"resources": [{"address": a, "expressions": e} for a, e in expressions.items()]}
        },
    }
    found = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan))))
    hsm = [f for f in found if f["check_id"] == "MLW-KV-11"]
    assert [(f["status"], f["message"]) for f in hsm] == [("fail", "CMK key cmk is software-protected (RSA)")]
    assert by(found, "MLW-KV-12")["status"] == "pass"  # the vault holds the workspace's key: judged
    for account in ("stinline", "stseparate"):
        encrypted = by(found, "MLW-ST-08", account)
        assert encrypted["status"] == "pass" and encrypted["message"].endswith("customer-managed key cmk")


@pytest.mark.parametrize("identifier", ["[reference('key').keyUriWithVersion]", "[reference('key').keyUri]"])
def test_template_key_uri_names_the_key(tmp_path: Path, identifier: str) -> None:
    """Bicep's `keyIdentifier: key.properties.keyUriWithVersion`: the URI follows from the names, so
    the key is judged as the workspace's CMK rather than left unknown."""
    document = {
        **template(),
        "languageVersion": "2.0",
        "resources": {
            "kv": VAULT,
            "key": {**KEY, "name": "[format('{0}/{1}', 'kv-ml', 'cmk')]", "properties": {"kty": "RSA-HSM"}},
            "ws": _workspace("[resourceId('Microsoft.Storage/storageAccounts', 'stml')]", identifier),
        },
    }
    found = findings(scan("--template", str(write(tmp_path / "main.json", document))))
    (hsm,) = [f for f in found if f["check_id"] == "MLW-KV-11"]
    assert (hsm["status"], hsm["message"]) == ("pass", "CMK key cmk is HSM-backed (RSA-HSM)")
    assert by(found, "MLW-KV-12")["status"] == "fail"  # the vault's access policy may purge the workspace's key
