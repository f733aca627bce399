"""Customer-managed keys held in a Managed HSM, in an ARM template: the HSM's keys (`managedHSMs/keys`)
are judged on the HSM like a vault's keys, and the storage account and workspace that encrypt with
them are found by the key URIs that follow from the names (`reference(key).keyUri`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.iac.conftest import by, findings, scan, template, write

HSM = {
    "type": "Microsoft.KeyVault/managedHSMs",
    "apiVersion": "2023-07-01",
    "name": "hsm-ml",
    "location": "westeurope",
    "sku": {"family": "B", "name": "Standard_B1"},
    "properties": {
        "tenantId": "[subscription().tenantId]",
        "initialAdminObjectIds": ["00000000-0000-0000-0000-00000000a001"],
        "enablePurgeProtection": True,
        "publicNetworkAccess": "Disabled",
    },
}
_ROTATE = {"lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "rotate"}}]}


def _key(name: str, **attributes: Any) -> dict[str, Any]:
    return {
        "type": "Microsoft.KeyVault/managedHSMs/keys",
        "apiVersion": "2023-07-01",
        "name": f"hsm-ml/{name}",
        "dependsOn": ["[resourceId('Microsoft.KeyVault/managedHSMs', 'hsm-ml')]"],
        "properties": {"kty": "RSA-HSM", "keySize": 3072, "attributes": attributes, "rotationPolicy": _ROTATE},
    }


STORAGE = {
    "type": "Microsoft.Storage/storageAccounts",
    "apiVersion": "2023-05-01",
    "name": "stmlhsm",
    "location": "westeurope",
    "kind": "StorageV2",
    "sku": {"name": "Standard_ZRS"},
    "identity": {"type": "SystemAssigned"},
    "properties": {
        "encryption": {
            "keySource": "Microsoft.Keyvault",
            "keyvaultproperties": {
                "keyvaulturi": "[reference(resourceId('Microsoft.KeyVault/managedHSMs', 'hsm-ml')).hsmUri]",
                "keyname": "cmk-storage",
            },
            "services": {"blob": {"enabled": True}},
        }
    },
}
_HSM_KEY_ML = "resourceId('Microsoft.KeyVault/managedHSMs/keys', 'hsm-ml', 'cmk-ml')"
WORKSPACE = {
    "type": "Microsoft.MachineLearningServices/workspaces",
    "apiVersion": "2024-04-01",
    "name": "mlw-hsm",
    "location": "westeurope",
    "identity": {"type": "SystemAssigned"},
    "properties": {
        "storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'stmlhsm')]",
        "encryption": {
            "status": "Enabled",
            "keyVaultProperties": {
                "keyVaultArmId": "[resourceId('Microsoft.KeyVault/managedHSMs', 'hsm-ml')]",
                "keyIdentifier": f"[reference({_HSM_KEY_ML}).keyUriWithVersion]",
            },
        },
    },
}


def test_template_hsm_keys_are_judged_on_the_hsm(tmp_path: Path) -> None:
    document = template(HSM, _key("cmk-ml"), _key("cmk-storage", exp=1893456000), STORAGE, WORKSPACE)
    found = findings(scan("--template", str(write(tmp_path / "main.json", document))))
    assert by(found, "MLW-ST-08", "stmlhsm")["status"] == "pass"
    assert by(found, "MLW-MLWS-03", "mlw-hsm")["status"] == "pass"
    on_hsm = {
        check: sorted(
            (f["status"], f["message"]) for f in found if f["check_id"] == check and f["resource_name"] == "hsm-ml"
        )
        for check in ("MLW-KV-07", "MLW-KV-08", "MLW-KV-11")
    }
    assert on_hsm == {
        "MLW-KV-07": [
            ("fail", "key cmk-ml has no expiration date"),
            ("pass", "key cmk-storage has an expiration date"),
        ],
        "MLW-KV-08": [("pass", "key cmk-ml rotates automatically"), ("pass", "key cmk-storage rotates automatically")],
        "MLW-KV-11": [
            ("pass", "CMK key cmk-ml is HSM-backed (RSA-HSM)"),
            ("pass", "CMK key cmk-storage is HSM-backed (RSA-HSM)"),
        ],
    }


def test_template_key_in_an_hsm_outside_it_is_judged(tmp_path: Path) -> None:
    """A key the template creates in an HSM it does not declare is judged on that HSM, not dropped."""
    key = {**_key("cmk-ml"), "dependsOn": []}
    found = findings(scan("--template", str(write(tmp_path / "main.json", template(key)))))
    expiry = by(found, "MLW-KV-07", "hsm-ml")
    assert (expiry["status"], expiry["message"]) == ("fail", "key cmk-ml has no expiration date")
    assert expiry["resource_type"] == "microsoft.keyvault/managedhsms"
