"""Values known only at deployment are never read as absent: an expiry set from `utcNow()` or
`(known after apply)` is an expiry; a rotation policy known only then is unknown, not missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanner import props
from scanner.iac import read_plan
from tests.iac.conftest import by, findings, scan, template, write

VAULT = {
    "type": "Microsoft.KeyVault/vaults",
    "apiVersion": "2023-07-01",
    "name": "kv-ml",
    "location": "westeurope",
    "properties": {
        "tenantId": "[subscription().tenantId]",
        "sku": {"family": "A", "name": "premium"},
        "enableRbacAuthorization": True,
        "enablePurgeProtection": True,
    },
}
BASE_TIME = {"baseTime": {"type": "string", "defaultValue": "[utcNow('u')]"}}


def key(name: str, **properties: Any) -> dict[str, Any]:
    """A key as the quickstarts declare it (`key-vault-create-key` shape)."""
    return {
        "type": "Microsoft.KeyVault/vaults/keys",
        "apiVersion": "2023-07-01",
        "name": f"kv-ml/{name}",
        "dependsOn": ["[resourceId('Microsoft.KeyVault/vaults', 'kv-ml')]"],
        "properties": {"kty": "RSA-HSM", "keySize": 3072, "keyOps": ["wrapKey", "unwrapKey"], **properties},
    }


def secret(name: str, **attributes: Any) -> dict[str, Any]:
    return {
        "type": "Microsoft.KeyVault/vaults/secrets",
        "apiVersion": "2023-07-01",
        "name": f"kv-ml/{name}",
        "properties": {"value": "[parameters('password')]", "attributes": attributes},
    }


def _scan_template(tmp_path: Path, *resources: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = {**BASE_TIME, "password": {"type": "securestring"}, "expiry": {"type": "int"}}
    return findings(
        scan("--template", str(write(tmp_path / "main.json", template(VAULT, *resources, parameters=parameters))))
    )


def _key_verdict(found: list[dict[str, Any]], check: str, key_name: str) -> dict[str, Any]:
    matches = [f for f in found if f["check_id"] == check and f.get("detail_key") == key_name]
    assert len(matches) == 1, [(f["check_id"], f.get("detail_key")) for f in found if f["check_id"] == check]
    return matches[0]


@pytest.mark.parametrize(
    ("exp", "status", "says"),
    [
        # utcNow() is allowed only in a parameter default: the quickstart pattern
        ("[dateTimeToEpoch(dateTimeAdd(parameters('baseTime'), 'P90D'))]", "pass", "set at deployment"),
        ("[dateTimeToEpoch(dateTimeAdd(utcNow(), 'P90D'))]", "pass", "dateTimeAdd(utcNow(), 'P90D')"),
        # a parameter the deployer must give (ARM refuses a deployment without it)
        ("[parameters('expiry')]", "pass", "set at deployment"),
        # a conditional may leave the key without one: that is decided at deployment
        (
            "[if(equals(parameters('baseTime'), ''), null(), dateTimeToEpoch(parameters('baseTime')))]",
            "unknown",
            "decided at deployment",
        ),
        (1767225600, "pass", "has an expiration date"),
        (None, "fail", "no expiration date"),
    ],
)
def test_key_expiry_known_only_at_deployment_is_an_expiry(tmp_path: Path, exp: Any, status: str, says: str) -> None:
    attributes = {"enabled": True} if exp is None else {"enabled": True, "exp": exp}
    found = _scan_template(tmp_path, key("cmk", attributes=attributes))
    verdict = _key_verdict(found, "MLW-KV-07", "cmk")
    assert verdict["status"] == status, verdict["message"]
    assert says in verdict["message"]


def test_secret_expiry_known_only_at_deployment_is_an_expiry(tmp_path: Path) -> None:
    found = _scan_template(
        tmp_path,
        secret("db", exp="[dateTimeToEpoch(dateTimeAdd(parameters('baseTime'), 'P1Y'))]"),
        secret("api"),
    )
    assert _key_verdict(found, "MLW-KV-09", "db")["status"] == "pass"
    assert _key_verdict(found, "MLW-KV-09", "api")["status"] == "fail"


@pytest.mark.parametrize(
    ("policy", "status"),
    [
        ("[parameters('rotation')]", "unknown"),
        ({"lifetimeActions": "[parameters('rotation')]"}, "unknown"),
        (
            {"lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"}, "action": "[parameters('rotation')]"}]},
            "unknown",
        ),
        (
            {
                "lifetimeActions": [
                    {"trigger": {"timeAfterCreate": "[parameters('rotation')]"}, "action": {"type": "rotate"}}
                ]
            },
            "pass",
        ),
        ({"lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "notify"}}]}, "fail"),
    ],
)
def test_rotation_policy_known_only_at_deployment_is_unknown(tmp_path: Path, policy: Any, status: str) -> None:
    declared = template(VAULT, key("cmk", rotationPolicy=policy), parameters={"rotation": {"type": "object"}})
    found = findings(scan("--template", str(write(tmp_path / "main.json", declared))))
    verdict = _key_verdict(found, "MLW-KV-08", "cmk")
    assert verdict["status"] == status, verdict["message"]
    if status == "unknown":
        assert "deployment" in verdict["message"]


VAULT_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.KeyVault/vaults/kv-ml"
)


def _plan(*changes: tuple[str, str, dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    """A plan as `terraform show -json` writes it: (type, name, after, after_unknown) per change."""
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "planned_values": {"root_module": {"resources": []}},
        "resource_changes": [
            {
                "address": f"{tf_type}.{name}",
                "mode": "managed",
                "type": tf_type,
                "name": name,
                "provider_name": "registry.terraform.io/hashicorp/azurerm",
                "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown},
            }
            for tf_type, name, after, unknown in changes
        ],
    }


def _vault(**after: Any) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    unknown = {k: True for k, v in after.items() if v is None}
    values = {
        "name": "kv-ml",
        "resource_group_name": "rg-ml",
        "location": "westeurope",
        "sku_name": "premium",
        "purge_protection_enabled": True,
        "rbac_authorization_enabled": False,
        **{k: v for k, v in after.items() if v is not None},
    }
    return ("azurerm_key_vault", "kv", values, {"id": True, "vault_uri": True, **unknown})


def _tf_key(after_unknown: dict[str, Any], **after: Any) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    values = {"name": "cmk", "key_vault_id": VAULT_ID, "key_type": "RSA-HSM", "key_size": 3072, **after}
    return ("azurerm_key_vault_key", "cmk", values, {"id": True, "version": True, **after_unknown})


def _plan_verdict(tmp_path: Path, plan: dict[str, Any], check: str, detail: str | None) -> dict[str, Any]:
    found = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan))))
    if detail is None:
        return by(found, check)
    return _key_verdict(found, check, detail)


@pytest.mark.parametrize(
    ("after", "unknown", "status"),
    [
        # expiration_date = timeadd(timestamp(), "2160h"), or time_rotating's rotation_rfc3339
        ({}, {"expiration_date": True}, "pass"),
        ({"expiration_date": "2027-01-01T00:00:00Z"}, {}, "pass"),
        ({"expiration_date": None}, {}, "fail"),
    ],
)
def test_plan_key_expiry_known_after_apply(tmp_path: Path, after: Any, unknown: Any, status: str) -> None:
    verdict = _plan_verdict(tmp_path, _plan(_vault(), _tf_key(unknown, **after)), "MLW-KV-07", "cmk")
    assert verdict["status"] == status, verdict["message"]
    if unknown:
        assert "expiration_date (known after apply)" in verdict["message"]


@pytest.mark.parametrize(
    ("after", "unknown", "status"),
    [
        ({"rotation_policy": []}, {"rotation_policy": True}, "unknown"),
        ({"rotation_policy": [{"expire_after": "P1Y"}]}, {"rotation_policy": [{"automatic": True}]}, "unknown"),
        ({"rotation_policy": [{"expire_after": "P1Y", "automatic": [{"time_before_expiry": "P30D"}]}]}, {}, "pass"),
        ({"rotation_policy": [{"expire_after": "P1Y", "notify_before_expiry": "P29D"}]}, {}, "fail"),
    ],
)
def test_plan_rotation_policy_known_after_apply(tmp_path: Path, after: Any, unknown: Any, status: str) -> None:
    verdict = _plan_verdict(tmp_path, _plan(_vault(), _tf_key(unknown, **after)), "MLW-KV-08", "cmk")
    assert verdict["status"] == status, verdict["message"]


def test_plan_lists_of_blocks_known_after_apply_are_not_empty(tmp_path: Path) -> None:
    """`connection_string` or `access_policy` from a computed value: not "no connection strings"."""
    app = (
        "azurerm_linux_web_app",
        "app",
        {
            "name": "app-score",
            "resource_group_name": "rg-ml",
            "https_only": True,
            "site_config": [{"minimum_tls_version": "1.2"}],
            "app_settings": {"MODEL": "v3"},
        },
        {"connection_string": True, "id": True},
    )
    verdict = _plan_verdict(tmp_path, _plan(app), "MLW-CFG-06", None)
    assert verdict["status"] == "unknown", verdict["message"]
    assert "connection_string (known after apply)" in verdict["message"]
    inventory = read_plan(write(tmp_path / "kv.json", _plan(_vault(access_policy=None))))
    (vault,) = inventory.resources
    assert (
        props.get(vault, "properties.accessPolicies")
        == "<unevaluated: azurerm_key_vault.kv.access_policy (known after apply)>"
    )


STORAGE = {
    "type": "Microsoft.Storage/storageAccounts",
    "apiVersion": "2023-05-01",
    "name": "stml",
    "location": "westeurope",
    "kind": "StorageV2",
    "sku": {"name": "Standard_LRS"},
    "properties": {"minimumTlsVersion": "TLS1_2", "publicNetworkAccess": "Disabled"},
}


def endpoint(target: str) -> dict[str, Any]:
    """A private endpoint as `quickstarts/microsoft.keyvault/key-vault-private-endpoint` declares it."""
    return {
        "type": "Microsoft.Network/privateEndpoints",
        "apiVersion": "2023-04-01",
        "name": "pe-kv",
        "location": "westeurope",
        "properties": {
            "subnet": {"id": "[parameters('subnetId')]"},
            "privateLinkServiceConnections": [
                {"name": "pe-kv", "properties": {"privateLinkServiceId": target, "groupIds": ["vault"]}}
            ],
        },
    }


@pytest.mark.parametrize(
    ("target", "vault", "storage"),
    [
        # the vault's name comes from a parameter without a value: only vaults may be its target
        ("[resourceId('Microsoft.KeyVault/vaults', parameters('vaultName'))]", "unknown", "fail"),
        # the whole id from a parameter without a value: any resource may be its target
        ("[parameters('targetId')]", "unknown", "unknown"),
        ("[resourceId('Microsoft.KeyVault/vaults', 'kv-ml')]", "pass", "fail"),
    ],
)
def test_private_endpoint_whose_target_is_known_only_at_deployment(
    tmp_path: Path, target: str, vault: str, storage: str
) -> None:
    parameters = {name: {"type": "string"} for name in ("subnetId", "vaultName", "targetId")}
    declared = template(VAULT, STORAGE, endpoint(target), parameters=parameters)
    found = findings(scan("--template", str(write(tmp_path / "main.json", declared))))
    kv, st = by(found, "MLW-KV-06"), by(found, "MLW-ST-06")
    assert (kv["status"], st["status"]) == (vault, storage), (kv["message"], st["message"])
    if vault == "unknown":
        assert "cannot be known before deployment" in kv["message"]


def test_plan_private_endpoint_approval_known_after_apply_is_unknown(tmp_path: Path) -> None:
    connection = {"name": "pe-kv", "private_connection_resource_id": VAULT_ID, "subresource_names": ["vault"]}
    pe = (
        "azurerm_private_endpoint",
        "pe",
        {
            "name": "pe-kv",
            "resource_group_name": "rg-ml",
            "subnet_id": "/x",
            "private_service_connection": [connection],
        },
        {"private_service_connection": [{"is_manual_connection": True}], "id": True},
    )
    verdict = _plan_verdict(tmp_path, _plan(_vault(), pe), "MLW-KV-06", None)
    assert verdict["status"] == "unknown", verdict["message"]
    assert "is_manual_connection (known after apply)" in verdict["message"]


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("[reference(resourceId('Microsoft.Resources/deploymentScripts', 'keygen')).outputs.apiKey]", "unknown"),
        ("[format('@Microsoft.KeyVault(SecretUri={0})', reference(parameters('secretId')).secretUri)]", "pass"),
        ("[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'stml'), '2023-05-01').keys[0].value]", "fail"),
    ],
)
def test_secret_named_setting_known_only_at_deployment(tmp_path: Path, value: str, status: str) -> None:
    site = {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": "app-score",
        "location": "westeurope",
        "kind": "app,linux",
        "properties": {
            "httpsOnly": True,
            "siteConfig": {"appSettings": [{"name": "SCORING_API_KEY", "value": value}]},
        },
    }
    declared = template(STORAGE, site, parameters={"secretId": {"type": "string"}})
    verdict = by(findings(scan("--template", str(write(tmp_path / "main.json", declared)))), "MLW-CFG-06")
    assert verdict["status"] == status, verdict["message"]
