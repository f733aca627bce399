"""Key Vault checks: vault rows, key metadata per key, diagnostic settings and CMK usage across the estate."""

from __future__ import annotations

from typing import Any

import pytest

from scanner import inventory
from scanner.inventory import ALL_SOURCES, KEYVAULT_SECRETS, KeyMetadata, LifetimeAction, RotationPolicy
from scanner.models import Gap, Resource, Status
from tests.helpers import estate, resource, rid, run, status

KV = "Microsoft.KeyVault/vaults"
VAULT_ID = rid(KV, "kv-ml")
VAULT_URI = "https://kv-ml.vault.azure.net/"
TENANT = "00000000-0000-0000-0000-0000000000f1"


def vault(properties: dict[str, Any] | None = None, name: str = "kv-ml") -> Resource:
    """A vault row: sku sits inside properties, the top-level sku is null."""
    base: dict[str, Any] = {
        "sku": {"family": "A", "name": "premium"},
        "tenantId": TENANT,
        "vaultUri": f"https://{name}.vault.azure.net/",
        "accessPolicies": [],
        "provisioningState": "Succeeded",
    }
    base.update(properties or {})
    return resource(KV, name, base)


HARDENED: dict[str, Any] = {
    "enableSoftDelete": True,
    "softDeleteRetentionInDays": 90,
    "enablePurgeProtection": True,
    "enableRbacAuthorization": True,
    "publicNetworkAccess": "Disabled",
    "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
    "privateEndpointConnections": [
        {
            "id": VAULT_ID + "/privateEndpointConnections/pe-kv",
            "properties": {
                "privateEndpoint": {"id": rid("Microsoft.Network/privateEndpoints", "pe-kv")},
                "privateLinkServiceConnectionState": {"status": "Approved", "actionsRequired": "None"},
            },
        }
    ],
}

PERMISSIVE: dict[str, Any] = {
    "enableSoftDelete": False,
    "enablePurgeProtection": False,
    "enableRbacAuthorization": False,
    "publicNetworkAccess": "Enabled",
    "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": []},
}

ROTATE_90D = RotationPolicy(
    lifetime_actions=(
        LifetimeAction(action="Rotate", time_after_create="P90D"),
        LifetimeAction(action="Notify", time_before_expiry="P30D"),
    ),
    expiry_time="P1Y",
)
NOTIFY_ONLY = RotationPolicy(lifetime_actions=(LifetimeAction(action="Notify", time_before_expiry="P30D"),))


def key(name: str, vault_name: str = "kv-ml", **fields: Any) -> KeyMetadata:
    defaults: dict[str, Any] = {
        "enabled": True,
        "expires": 1_830_000_000,
        "created": 1_700_000_000,
        "key_type": "RSA-HSM",
        "key_size": 3072,
        "rotation_policy": ROTATE_90D,
    }
    defaults.update(fields)
    return KeyMetadata(
        vault_id=rid(KV, vault_name),
        vault_uri=f"https://{vault_name}.vault.azure.net/",
        name=name,
        kid=f"https://{vault_name}.vault.azure.net/keys/{name}",
        **defaults,
    )


def diagnostic(logs: list[dict[str, Any]], name: str = "to-law", target: str = VAULT_ID) -> Resource:
    return resource(
        "Microsoft.Insights/diagnosticSettings",
        name,
        {
            "workspaceId": rid("Microsoft.OperationalInsights/workspaces", "law-sec"),
            "logs": logs,
            "metrics": [{"category": "AllMetrics", "enabled": True}],
        },
        id=f"{target}/providers/microsoft.insights/diagnosticSettings/{name}",
    )


ROW_CHECKS = [f"MLW-KV-{n:02d}" for n in range(1, 7)]


@pytest.mark.parametrize("check_id", ROW_CHECKS)
def test_hardened_vault_passes(check_id: str) -> None:
    assert status(check_id, vault(HARDENED)) is Status.PASS


@pytest.mark.parametrize("check_id", ROW_CHECKS)
def test_permissive_vault_fails(check_id: str) -> None:
    assert status(check_id, vault(PERMISSIVE)) is Status.FAIL


ABSENT_EXPECTED = {
    "MLW-KV-01": Status.FAIL,  # purge protection: absent = off (all anchors)
    "MLW-KV-02": Status.PASS,  # soft delete: on by default since 2019 (Checkov's reading)
    "MLW-KV-03": Status.FAIL,  # access-policy model
    "MLW-KV-04": Status.FAIL,  # default Enabled (Azure Policy's reading)
    "MLW-KV-05": Status.FAIL,  # default Allow
    "MLW-KV-06": Status.FAIL,  # no private endpoint
}


@pytest.mark.parametrize(("check_id", "expected"), sorted(ABSENT_EXPECTED.items()))
def test_absent_properties_score_as_decided(check_id: str, expected: Status) -> None:
    assert status(check_id, vault()) is expected


def test_purge_protection_absent_fails_as_azure_policy_and_checkov_do() -> None:
    [finding] = run("MLW-KV-01", vault({"enablePurgeProtection": None}))
    assert finding.status is Status.FAIL and "not set" in finding.message


def test_soft_delete_absent_passes_unlike_azure_policy() -> None:
    """Divergence: Azure Policy fails an absent enableSoftDelete; soft delete is on by default since 2019."""
    [finding] = run("MLW-KV-02", vault())
    assert finding.status is Status.PASS and "default" in finding.message


def test_soft_delete_as_string_false_fails() -> None:
    assert status("MLW-KV-02", vault({"enableSoftDelete": "false"})) is Status.FAIL


def test_public_network_access_absent_fails_unlike_checkov() -> None:
    [finding] = run("MLW-KV-04", vault({"networkAcls": {"defaultAction": "Deny"}}))
    assert finding.status is Status.FAIL and "default is Enabled" in finding.message


def test_firewall_passes_when_acl_denies_with_public_access_on() -> None:
    assert status("MLW-KV-05", vault({"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "deny"}})) is (
        Status.PASS
    )


def test_firewall_passes_when_public_access_disabled() -> None:
    assert status("MLW-KV-05", vault({"publicNetworkAccess": "disabled"})) is Status.PASS


# -- keys ---------------------------------------------------------------------------------


def _key_statuses(check_id: str, keys: list[KeyMetadata], *extra: Resource) -> dict[str | None, Status]:
    target = vault(HARDENED)
    findings = run(check_id, target, estate([target, *extra], keys=keys))
    return {f.detail_key: f.status for f in findings}


def test_key_expiry_one_verdict_per_key() -> None:
    keys = [key("with-exp"), key("no-exp", expires=None), key("off", enabled=False, expires=None)]
    assert _key_statuses("MLW-KV-07", keys) == {
        "with-exp": Status.PASS,
        "no-exp": Status.FAIL,
        "off": Status.NOT_APPLICABLE,
    }


@pytest.mark.parametrize("check_id", ["MLW-KV-07", "MLW-KV-08", "MLW-KV-11"])
def test_vault_without_keys_is_not_applicable(check_id: str) -> None:
    assert status(check_id, vault(HARDENED)) is Status.NOT_APPLICABLE


@pytest.mark.parametrize("check_id", ["MLW-KV-07", "MLW-KV-08", "MLW-KV-11"])
def test_key_metadata_not_collected_is_unknown(check_id: str) -> None:
    target = vault(HARDENED)
    est = estate([target], keys=[key("k1")], collected=set(ALL_SOURCES) - {inventory.KEY_METADATA})
    [finding] = run(check_id, target, est)
    assert finding.status is Status.UNKNOWN and "not collected" in finding.message


def test_unreachable_private_vault_is_a_coverage_gap() -> None:
    target = vault(HARDENED)
    gap = Gap(source=inventory.KEY_METADATA, scope=VAULT_ID, reason="vault data plane unreachable (private)")
    [finding] = run("MLW-KV-07", target, estate([target], gaps=[gap]))
    assert finding.status is Status.UNKNOWN and "unreachable" in finding.message


def test_key_rotation_per_key() -> None:
    keys = [
        key("rotates"),
        key("notify-only", rotation_policy=NOTIFY_ONLY),
        key("no-policy", rotation_policy=None),
        key("unreadable", rotation_policy=None, rotation_policy_readable=False),
        key("cert-backed", managed=True, rotation_policy=None),
        key("disabled", enabled=False, rotation_policy=None),
    ]
    assert _key_statuses("MLW-KV-08", keys) == {
        "rotates": Status.PASS,
        "notify-only": Status.FAIL,
        "no-policy": Status.FAIL,
        "unreadable": Status.UNKNOWN,
        "cert-backed": Status.NOT_APPLICABLE,
        "disabled": Status.NOT_APPLICABLE,
    }


def test_rotation_action_compared_case_insensitively() -> None:
    lower = RotationPolicy(lifetime_actions=(LifetimeAction(action="rotate", time_after_create="P30D"),))
    assert _key_statuses("MLW-KV-08", [key("k1", rotation_policy=lower)]) == {"k1": Status.PASS}


def test_a_rotate_action_without_a_trigger_does_not_rotate() -> None:
    """Nothing starts a Rotate action that has neither `timeAfterCreate` nor `timeBeforeExpiry`
    (a reply of that shape also reached the snapshot as the text of the SDK's object)."""
    bare = RotationPolicy(lifetime_actions=(LifetimeAction(action="Rotate"),))
    found = run("MLW-KV-08", vault(HARDENED), estate([vault(HARDENED)], keys=[key("k1", rotation_policy=bare)]))
    assert [(f.status, f.message) for f in found] == [
        (Status.FAIL, "key k1's rotation policy has a Rotate action with no trigger")
    ]
    before_expiry = RotationPolicy(lifetime_actions=(LifetimeAction(action="Rotate", time_before_expiry="P30D"),))
    assert _key_statuses("MLW-KV-08", [key("k2", rotation_policy=before_expiry)]) == {"k2": Status.PASS}


def test_key_findings_have_distinct_fingerprints() -> None:
    target = vault(HARDENED)
    findings = run("MLW-KV-07", target, estate([target], keys=[key("a"), key("b", expires=None)]))
    assert len({f.fingerprint for f in findings}) == 2
    assert all(f.resource_id == target.id for f in findings)


def test_secret_expiry_is_unknown_until_secret_metadata_is_collected() -> None:
    target = vault(HARDENED)
    not_collected = estate([target], collected=[s for s in ALL_SOURCES if s != KEYVAULT_SECRETS])
    [finding] = run("MLW-KV-09", target, not_collected)
    assert finding.status is Status.UNKNOWN and "not collected" in finding.message
    [empty] = run("MLW-KV-09", target)
    assert empty.status is Status.NOT_APPLICABLE and "no secrets" in empty.message


def secret(name: str, attributes: dict[str, Any]) -> Resource:
    """An ARM `vaults/{v}/secrets` list item: metadata only, never a value."""
    return resource(
        f"{KV}/secrets",
        name,
        {
            "attributes": {"created": 1_700_000_000, "updated": 1_700_000_000, **attributes},
            "contentType": "text/plain",
            "secretUri": f"{VAULT_URI}secrets/{name}",
        },
        id=f"{VAULT_ID}/secrets/{name}",
    )


def test_secret_expiry_per_secret_when_metadata_is_in_the_estate() -> None:
    secrets = [
        secret("db-password", {"enabled": True, "exp": 1_800_000_000}),
        secret("storage-key", {"enabled": True}),
        secret("old-token", {"enabled": False}),
    ]
    assert _key_statuses("MLW-KV-09", [], *secrets) == {
        "db-password": Status.PASS,
        "storage-key": Status.FAIL,
        "old-token": Status.NOT_APPLICABLE,
    }


# -- diagnostics ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "logs",
    [
        [{"category": "AuditEvent", "enabled": True}],
        [{"categoryGroup": "audit", "enabled": True}],
        [{"categoryGroup": "allLogs", "enabled": True}],
        [{"category": "auditevent", "enabled": "true"}],
    ],
)
def test_audit_logs_enabled_passes(logs: list[dict[str, Any]]) -> None:
    target = vault(HARDENED)
    assert status("MLW-KV-10", target, estate([target, diagnostic(logs)])) is Status.PASS


@pytest.mark.parametrize(
    "logs",
    [
        [{"category": "AuditEvent", "enabled": False}],
        [{"category": "AzurePolicyEvaluationDetails", "enabled": True}],
        [],
    ],
)
def test_audit_logs_off_fails(logs: list[dict[str, Any]]) -> None:
    target = vault(HARDENED)
    assert status("MLW-KV-10", target, estate([target, diagnostic(logs)])) is Status.FAIL


def test_no_diagnostic_settings_fails() -> None:
    [finding] = run("MLW-KV-10", vault(HARDENED))
    assert finding.status is Status.FAIL and "no diagnostic settings" in finding.message


def test_diagnostic_settings_not_collected_is_unknown() -> None:
    target = vault(HARDENED)
    est = estate([target], collected=set(ALL_SOURCES) - {inventory.DIAGNOSTIC_SETTINGS})
    assert status("MLW-KV-10", target, est) is Status.UNKNOWN


def test_another_vaults_diagnostic_setting_does_not_count() -> None:
    target = vault(HARDENED)
    other = diagnostic([{"categoryGroup": "audit", "enabled": True}], target=rid(KV, "kv-other"))
    assert status("MLW-KV-10", target, estate([target, other])) is Status.FAIL


# -- HSM-backed customer-managed keys --------------------------------------------------------


def _storage_cmk(key_name: str, uri: str = VAULT_URI) -> Resource:
    return resource(
        "Microsoft.Storage/storageAccounts",
        f"st{key_name.replace('-', '')}",
        {
            "encryption": {
                "keySource": "Microsoft.Keyvault",
                "keyvaultproperties": {"keyvaulturi": uri, "keyname": key_name},
            }
        },
        kind="StorageV2",
    )


def _workspace_cmk(key_name: str) -> Resource:
    return resource(
        "Microsoft.MachineLearningServices/workspaces",
        "mlw-prod",
        {
            "encryption": {
                "status": "Enabled",
                "keyVaultProperties": {
                    "keyVaultArmId": VAULT_ID,
                    "keyIdentifier": f"https://kv-ml.vault.azure.net/keys/{key_name}/abcdef0123456789",
                },
            }
        },
        kind="Default",
    )


def _aks_kms(key_name: str) -> Resource:
    return resource(
        "Microsoft.ContainerService/managedClusters",
        "aks-inference",
        {
            "securityProfile": {
                "azureKeyVaultKms": {
                    "enabled": True,
                    "keyId": f"https://KV-ML.vault.azure.net:443/keys/{key_name}/0011",
                    "keyVaultNetworkAccess": "Private",
                }
            }
        },
    )


def test_cmk_keys_judged_by_hsm_backing() -> None:
    keys = [
        key("cmk-storage", key_type="RSA-HSM"),
        key("cmk-ws", key_type="RSA"),
        key("kms-aks", key_type="EC-HSM"),
        key("signing", key_type="EC"),
    ]
    consumers = [_storage_cmk("cmk-storage"), _workspace_cmk("cmk-ws"), _aks_kms("kms-aks")]
    assert _key_statuses("MLW-KV-11", keys, *consumers) == {
        "cmk-storage": Status.PASS,
        "cmk-ws": Status.FAIL,
        "kms-aks": Status.PASS,
        "signing": Status.NOT_APPLICABLE,
    }


def test_cmk_usage_names_the_consumer_in_evidence() -> None:
    target = vault(HARDENED)
    consumer = _storage_cmk("cmk-storage", uri="https://kv-ml.vault.azure.net")
    [finding] = run("MLW-KV-11", target, estate([target, consumer], keys=[key("cmk-storage", key_type="RSA")]))
    assert finding.status is Status.FAIL and "software-protected" in finding.message
    used_by = next(e.value for e in finding.evidence if e.path.endswith("usedAsCmkBy"))
    assert used_by == [consumer.id]


def test_cmk_key_in_another_vault_is_not_attributed_here() -> None:
    consumer = _storage_cmk("cmk-storage", uri="https://kv-other.vault.azure.net/")
    assert _key_statuses("MLW-KV-11", [key("cmk-storage", key_type="RSA")], consumer) == {
        "cmk-storage": Status.NOT_APPLICABLE
    }


def test_storage_with_microsoft_managed_keys_is_no_cmk_user() -> None:
    consumer = resource(
        "Microsoft.Storage/storageAccounts",
        "stplain",
        {
            "encryption": {
                "keySource": "Microsoft.Storage",
                "keyvaultproperties": {"keyvaulturi": VAULT_URI, "keyname": "k"},
            }
        },
    )
    assert _key_statuses("MLW-KV-11", [key("k", key_type="RSA")], consumer) == {"k": Status.NOT_APPLICABLE}


def test_cmk_key_type_not_collected_is_unknown() -> None:
    assert _key_statuses("MLW-KV-11", [key("cmk-ws", key_type=None)], _workspace_cmk("cmk-ws")) == {
        "cmk-ws": Status.UNKNOWN
    }


def test_malformed_cmk_identifier_elsewhere_does_not_break_the_vault() -> None:
    broken = resource(
        "Microsoft.ContainerRegistry/registries",
        "acrbroken",
        {"encryption": {"status": "enabled", "keyVaultProperties": {"keyIdentifier": "https://[kv-ml/keys/x"}}},
    )
    consumers = (broken, _workspace_cmk("cmk-ws"))
    assert _key_statuses("MLW-KV-11", [key("cmk-ws", key_type="RSA-HSM")], *consumers) == {"cmk-ws": Status.PASS}


# MLW-KV-12: purge rights in access policies on vaults whose keys encrypt ML data.
OBJECT = "00000000-0000-0000-0000-00000000beef"


def policy(keys: list[str], secrets: list[str] | None = None, object_id: str = OBJECT) -> dict[str, Any]:
    return {
        "tenantId": TENANT,
        "objectId": object_id,
        "permissions": {"keys": keys, "secrets": secrets or ["Get"], "certificates": []},
    }


def ml_workspace_with_cmk(vault_name: str = "kv-ml") -> Resource:
    return resource(
        "Microsoft.MachineLearningServices/workspaces",
        "mlw-clinical",
        {
            "encryption": {
                "status": "Enabled",
                "keyVaultProperties": {"keyIdentifier": f"https://{vault_name}.vault.azure.net/keys/cmk-ml/0123abcd"},
            }
        },
    )


def purge_status(properties: dict[str, Any], *others: Resource) -> tuple[Status, str]:
    target = vault(properties)
    [finding] = run("MLW-KV-12", target, estate([target, *others]))
    return finding.status, finding.message


def test_purge_grant_on_a_vault_encrypting_ml_data_fails_naming_the_principal() -> None:
    found, message = purge_status(
        {"accessPolicies": [policy(["Get", "WrapKey", "UnwrapKey", "Purge"]), policy(["Get"], object_id="other")]},
        ml_workspace_with_cmk(),
    )
    assert found is Status.FAIL and OBJECT in message and "keys: purge" in message and "other" not in message


@pytest.mark.parametrize("permissions", [(["all"], None), (["Get"], ["All"]), (["get"], ["purge", "get"])])
def test_all_or_secret_purge_fails_too(permissions: tuple[list[str], list[str] | None]) -> None:
    found, _ = purge_status({"accessPolicies": [policy(*permissions)]}, ml_workspace_with_cmk())
    assert found is Status.FAIL


def test_least_privilege_policies_pass() -> None:
    found, _ = purge_status({"accessPolicies": [policy(["get", "wrapKey", "unwrapKey"])]}, ml_workspace_with_cmk())
    assert found is Status.PASS


def test_access_policies_absent_passes() -> None:
    target = vault()
    row = target.model_copy(
        update={"properties": {k: v for k, v in target.properties.items() if k != "accessPolicies"}}
    )
    [finding] = run("MLW-KV-12", row, estate([row, ml_workspace_with_cmk()]))
    assert finding.status is Status.PASS


def test_rbac_vault_is_not_applicable_and_says_so() -> None:
    found, message = purge_status(
        {"enableRbacAuthorization": True, "accessPolicies": [policy(["all"])]}, ml_workspace_with_cmk()
    )
    assert found is Status.NOT_APPLICABLE and "RBAC" in message


def test_vault_without_ml_keys_is_not_applicable() -> None:
    found, _ = purge_status({"accessPolicies": [policy(["all"])]})
    assert found is Status.NOT_APPLICABLE
    found, _ = purge_status({"accessPolicies": [policy(["all"])]}, ml_workspace_with_cmk("kv-other"))
    assert found is Status.NOT_APPLICABLE


def test_cmk_of_storage_an_ml_workspace_uses_counts_as_ml_data() -> None:
    storage = resource(
        "Microsoft.Storage/storageAccounts",
        "stml",
        {
            "encryption": {
                "keySource": "Microsoft.Keyvault",
                "keyvaultproperties": {"keyvaulturi": "https://kv-ml.vault.azure.net/", "keyname": "cmk-st"},
            }
        },
    )
    workspace = resource("Microsoft.MachineLearningServices/workspaces", "mlw", {"storageAccount": storage.id})
    found, _ = purge_status({"accessPolicies": [policy(["purge"])]}, storage)
    assert found is Status.NOT_APPLICABLE  # storage nobody in ML uses
    found, _ = purge_status({"accessPolicies": [policy(["purge"])]}, storage, workspace)
    assert found is Status.FAIL
