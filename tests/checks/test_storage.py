"""Storage account checks on Resource Graph rows: pass, fail and absent-property cases, plus each divergence."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.models import Status
from tests.helpers import estate, resource, rid, run, status

STORAGE = "Microsoft.Storage/storageAccounts"


def account(properties: dict[str, Any] | None = None, *, kind: str = "StorageV2", name: str = "stmldata") -> Any:
    """A storage account row as Resource Graph returns it (type lower-cased, properties raw)."""
    base: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
        "isHnsEnabled": False,
    }
    base.update(properties or {})
    return resource(STORAGE, name, base, kind=kind, sku={"name": "Standard_LRS", "tier": "Standard"})


HARDENED: dict[str, Any] = {
    "supportsHttpsTrafficOnly": True,
    "minimumTlsVersion": "TLS1_2",
    "allowBlobPublicAccess": False,
    "allowSharedKeyAccess": False,
    "allowCrossTenantReplication": False,
    "publicNetworkAccess": "Disabled",
    "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
    "encryption": {
        "keySource": "Microsoft.Keyvault",
        "requireInfrastructureEncryption": True,
        "keyvaultproperties": {
            "keyvaulturi": "https://kv-ml.vault.azure.net/",
            "keyname": "cmk-storage",
            "keyversion": "",
        },
        "services": {"blob": {"enabled": True, "keyType": "Account"}},
    },
}

PERMISSIVE: dict[str, Any] = {
    "supportsHttpsTrafficOnly": False,
    "minimumTlsVersion": "TLS1_0",
    "allowBlobPublicAccess": True,
    "allowSharedKeyAccess": True,
    "allowCrossTenantReplication": True,
    "publicNetworkAccess": "Enabled",
    "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": []},
    "encryption": {"keySource": "Microsoft.Storage", "services": {"blob": {"enabled": True}}},
}

ST_CHECKS = [f"MLW-ST-{n:02d}" for n in range(1, 11)]


@pytest.mark.parametrize("check_id", [c for c in ST_CHECKS if c != "MLW-ST-06"])
def test_hardened_account_passes(check_id: str) -> None:
    assert status(check_id, account(HARDENED)) is Status.PASS


@pytest.mark.parametrize("check_id", ST_CHECKS)
def test_permissive_account_fails(check_id: str) -> None:
    assert status(check_id, account(PERMISSIVE)) is Status.FAIL


# Absent properties: each decision pinned.
ABSENT_EXPECTED = {
    "MLW-ST-01": Status.PASS,  # secure transfer defaults to on
    "MLW-ST-02": Status.FAIL,  # older accounts accept TLS 1.0
    "MLW-ST-03": Status.FAIL,  # Azure Policy: unset allows public access
    "MLW-ST-04": Status.FAIL,  # default Enabled
    "MLW-ST-05": Status.FAIL,  # default Allow
    "MLW-ST-06": Status.FAIL,  # no private endpoint
    "MLW-ST-07": Status.FAIL,  # Azure Policy: unset accepts keys
    "MLW-ST-08": Status.FAIL,  # Microsoft-managed keys
    "MLW-ST-09": Status.FAIL,  # off unless chosen at creation
    "MLW-ST-10": Status.FAIL,  # older accounts allowed it
}


@pytest.mark.parametrize(("check_id", "expected"), sorted(ABSENT_EXPECTED.items()))
def test_absent_properties_score_as_decided(check_id: str, expected: Status) -> None:
    assert status(check_id, account()) is expected


def test_https_only_absent_passes_with_default_in_message() -> None:
    [finding] = run("MLW-ST-01", account())
    assert finding.status is Status.PASS
    assert "default" in finding.message
    assert finding.evidence[0].path == "properties.supportsHttpsTrafficOnly" and finding.evidence[0].value is None


def test_tls13_passes_although_anchors_test_equality_with_tls12() -> None:
    """Divergence: all anchors test == 'TLS1_2'; a higher floor is at least as strong."""
    [finding] = run("MLW-ST-02", account({"minimumTlsVersion": "TLS1_3"}))
    assert finding.status is Status.PASS
    assert "TLS1_3" in finding.message


@pytest.mark.parametrize("value", ["TLS1_0", "TLS1_1", "tls1_1"])
def test_tls_below_12_fails(value: str) -> None:
    assert status("MLW-ST-02", account({"minimumTlsVersion": value})) is Status.FAIL


def test_unrecognised_tls_value_fails_and_says_so() -> None:
    [finding] = run("MLW-ST-02", account({"minimumTlsVersion": "SSL3"}))
    assert finding.status is Status.FAIL and "not a recognised" in finding.message


def test_blob_public_access_absent_fails_as_azure_policy_does() -> None:
    [finding] = run("MLW-ST-03", account({"allowBlobPublicAccess": None}))
    assert finding.status is Status.FAIL and "unset" in finding.message


def test_blob_public_access_not_applicable_to_file_storage() -> None:
    premium_files = account({"allowBlobPublicAccess": True}, kind="FileStorage")
    assert status("MLW-ST-03", premium_files) is Status.NOT_APPLICABLE


def test_public_network_access_absent_fails_unlike_checkov() -> None:
    [finding] = run("MLW-ST-04", account({"networkAcls": {"defaultAction": "Deny"}}))
    assert finding.status is Status.FAIL and "default is Enabled" in finding.message


def test_public_network_access_compares_case_insensitively() -> None:
    assert status("MLW-ST-04", account({"publicNetworkAccess": "disabled"})) is Status.PASS


def test_firewall_passes_when_public_access_disabled_even_if_acl_allows() -> None:
    closed = account({"publicNetworkAccess": "Disabled", "networkAcls": {"defaultAction": "Allow"}})
    assert status("MLW-ST-05", closed) is Status.PASS


def test_firewall_deny_lower_case_passes() -> None:
    assert status("MLW-ST-05", account({"networkAcls": {"defaultAction": "deny"}})) is Status.PASS


def test_shared_key_access_absent_fails_as_azure_policy_does() -> None:
    [finding] = run("MLW-ST-07", account({"allowSharedKeyAccess": None}))
    assert finding.status is Status.FAIL and "unset" in finding.message


def test_private_endpoint_from_separate_endpoint_resource() -> None:
    target = account()
    endpoint = resource(
        "Microsoft.Network/privateEndpoints",
        "pe-stmldata-blob",
        {
            "subnet": {"id": rid("Microsoft.Network/virtualNetworks", "vnet-ml") + "/subnets/pe"},
            "privateLinkServiceConnections": [
                {
                    "name": "blob",
                    "properties": {
                        "privateLinkServiceId": target.id.upper(),
                        "groupIds": ["blob"],
                        "privateLinkServiceConnectionState": {"status": "Approved", "actionsRequired": "None"},
                    },
                }
            ],
        },
    )
    assert status("MLW-ST-06", target, estate([target, endpoint])) is Status.PASS


def test_pending_private_endpoint_does_not_count() -> None:
    pending = account(
        {
            "privateEndpointConnections": [
                {
                    "id": rid(STORAGE, "stmldata") + "/privateEndpointConnections/pe1",
                    "properties": {
                        "privateEndpoint": {"id": rid("Microsoft.Network/privateEndpoints", "pe1")},
                        "privateLinkServiceConnectionState": {"status": "Pending"},
                    },
                }
            ]
        }
    )
    [finding] = run("MLW-ST-06", pending)
    assert finding.status is Status.FAIL and "not approved" in finding.message


def test_cmk_key_source_is_case_insensitive() -> None:
    cmk = account(
        {
            "encryption": {
                "keySource": "Microsoft.KeyVault",
                "keyvaultproperties": {"keyvaulturi": "https://kv-ml.vault.azure.net", "keyname": "k1"},
            }
        }
    )
    assert status("MLW-ST-08", cmk) is Status.PASS


def test_cmk_without_key_reference_passes_as_policy_does() -> None:
    """Policy 6fac406b tests keySource only; the service refuses Microsoft.Keyvault without a key."""
    unnamed = account({"encryption": {"keySource": "Microsoft.Keyvault", "keyvaultproperties": {}}})
    [finding] = run("MLW-ST-08", unnamed)
    assert finding.status is Status.PASS and "names no vault URI or key" in finding.message


def test_evidence_records_the_value_seen() -> None:
    [finding] = run("MLW-ST-07", account(PERMISSIVE))
    assert [(e.path, e.value) for e in finding.evidence] == [("properties.allowSharedKeyAccess", True)]


# Cloud Shell storage and storage that ML uses.
WORKSPACE = "Microsoft.MachineLearningServices/workspaces"


def workspace_using(storage: Any, name: str = "mlw-clinical") -> Any:
    """An ML workspace row whose storageAccount names the account (ARM casing differs on purpose)."""
    return resource(WORKSPACE, name, {"storageAccount": storage.id.replace("resourceGroups", "resourcegroups")})


def cloud_shell(tags: dict[str, str] | None = None) -> Any:
    row = account(PERMISSIVE, name="cs4100300000a1b2c3")
    return row.model_copy(update={"tags": tags if tags is not None else {"ms-resource-usage": "azure-cloud-shell"}})


@pytest.mark.parametrize("check_id", [*ST_CHECKS, "MLW-ST-11"])
@pytest.mark.parametrize(
    "tags",
    [{"ms-resource-usage": "azure-cloud-shell"}, {"MS-Resource-Usage": "Azure-Cloud-Shell"}],
    ids=["as-created", "other-casing"],
)
def test_cloud_shell_storage_is_not_applicable_to_every_storage_check(check_id: str, tags: dict[str, str]) -> None:
    [finding] = run(check_id, cloud_shell(tags))
    assert finding.status is Status.NOT_APPLICABLE
    assert "Cloud Shell" in finding.message


def test_cloud_shell_storage_an_ml_workspace_uses_is_judged() -> None:
    shell = cloud_shell()
    est = estate([shell, workspace_using(shell), container(shell, "scratch", "Container")])
    assert status("MLW-ST-03", shell, est) is Status.FAIL
    assert status("MLW-ST-11", shell, est) is Status.FAIL


@pytest.mark.parametrize("tags", [{"ms-resource-usage": "something-else"}, {"env": "azure-cloud-shell"}, {}])
def test_other_tags_do_not_exempt(tags: dict[str, str]) -> None:
    assert status("MLW-ST-03", cloud_shell(tags)) is Status.FAIL


CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"


def container(storage: Any, name: str, access: str | None) -> Any:
    properties = {"publicAccess": access} if access is not None else {"hasImmutabilityPolicy": False}
    return resource(
        CONTAINERS,
        f"{storage.name}/default/{name}",
        properties,
        id=f"{storage.id}/blobServices/default/containers/{name}",
    )


def _ml_storage(properties: dict[str, Any], *containers: tuple[str, str | None]) -> tuple[Any, Any]:
    storage = account(properties)
    rows = [storage, workspace_using(storage), *(container(storage, n, a) for n, a in containers)]
    return storage, estate(rows)


def test_public_container_on_ml_storage_fails_naming_it() -> None:
    storage, est = _ml_storage({"allowBlobPublicAccess": True}, ("training", "Blob"), ("models", "None"))
    [finding] = run("MLW-ST-11", storage, est)
    assert finding.status is Status.FAIL
    assert "training (Blob)" in finding.message and "models" not in finding.message


def test_private_containers_on_ml_storage_pass() -> None:
    storage, est = _ml_storage({"allowBlobPublicAccess": True}, ("training", "None"), ("models", None))
    assert status("MLW-ST-11", storage, est) is Status.PASS


def test_account_setting_overrides_public_containers() -> None:
    storage, est = _ml_storage({"allowBlobPublicAccess": False}, ("training", "Container"))
    [finding] = run("MLW-ST-11", storage, est)
    assert finding.status is Status.PASS and "overrides" in finding.message


def test_container_public_access_absent_counts_as_private_and_account_flag_absent_defers_to_containers() -> None:
    storage, est = _ml_storage({}, ("training", None))
    assert status("MLW-ST-11", storage, est) is Status.PASS
    storage, est = _ml_storage({}, ("training", "container"))
    assert status("MLW-ST-11", storage, est) is Status.FAIL


def test_storage_no_ml_resource_uses_is_not_applicable_for_containers() -> None:
    storage = account({"allowBlobPublicAccess": True})
    est = estate([storage, container(storage, "public", "Blob")])
    assert status("MLW-ST-11", storage, est) is Status.NOT_APPLICABLE


def test_containers_not_listed_is_unknown_naming_the_account() -> None:
    from scanner.inventory import ALL_SOURCES, BLOB_CONTAINERS
    from scanner.models import Gap

    storage = account({"allowBlobPublicAccess": True})
    rows = [storage, workspace_using(storage)]
    not_collected = estate(rows, collected=[s for s in ALL_SOURCES if s != BLOB_CONTAINERS])
    [finding] = run("MLW-ST-11", storage, not_collected)
    assert finding.status is Status.UNKNOWN and storage.name in finding.message
    denied = estate(rows, gaps=[Gap(source=BLOB_CONTAINERS, scope=storage.id, reason="403 AuthorizationFailed")])
    [finding] = run("MLW-ST-11", storage, denied)
    assert finding.status is Status.UNKNOWN and "403" in finding.message
