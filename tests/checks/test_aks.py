"""AKS checks against managedClusters rows shaped like Resource Graph returns them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scanner.models import Resource, Status
from tests.helpers import resource, run, status

CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"

HARDENED: dict[str, Any] = {
    "provisioningState": "Succeeded",
    "powerState": {"code": "Running"},
    "kubernetesVersion": "1.30.5",
    "dnsPrefix": "aks-inference",
    "privateFQDN": "aks-inference-1a2b3c4d.privatelink.westeurope.azmk8s.io",
    "enableRBAC": True,
    "disableLocalAccounts": True,
    "aadProfile": {"managed": True, "enableAzureRBAC": True, "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
    "apiServerAccessProfile": {"enablePrivateCluster": True, "disableRunCommand": True},
    "servicePrincipalProfile": {"clientId": "msi"},
    "oidcIssuerProfile": {"enabled": True, "issuerURL": "https://westeurope.oic.prod-aks.azure.com/t/c/"},
    "securityProfile": {
        "workloadIdentity": {"enabled": True},
        "defender": {
            "logAnalyticsWorkspaceResourceId": "/subscriptions/s/resourceGroups/rg/providers/"
            "Microsoft.OperationalInsights/workspaces/law",
            "securityMonitoring": {"enabled": True},
        },
        "azureKeyVaultKms": {
            "enabled": True,
            "keyId": "https://kv-aks.vault.azure.net/keys/etcd/0123456789abcdef0123456789abcdef",
            "keyVaultNetworkAccess": "Private",
            "keyVaultResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-aks",
        },
    },
    "addonProfiles": {
        "azureKeyvaultSecretsProvider": {
            "enabled": True,
            "config": {"enableSecretRotation": "true", "rotationPollInterval": "2m"},
        },
        "azurepolicy": {"enabled": True, "config": None},
        "omsagent": {"enabled": True, "config": {"logAnalyticsWorkspaceResourceID": "/subscriptions/s/law"}},
    },
    "diskEncryptionSetID": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/diskEncryptionSets/des",
    "networkProfile": {"networkPlugin": "azure", "networkPolicy": "azure", "outboundType": "userDefinedRouting"},
    "autoUpgradeProfile": {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"},
    "agentPoolProfiles": [
        {
            "name": "system",
            "count": 3,
            "vmSize": "Standard_D4s_v5",
            "mode": "System",
            "osType": "Linux",
            "enableNodePublicIP": False,
            "enableEncryptionAtHost": True,
            "securityProfile": {"sshAccess": "Disabled"},
        },
        {
            "name": "gpu",
            "count": 2,
            "vmSize": "Standard_NC6s_v3",
            "mode": "User",
            "osType": "Linux",
            "enableNodePublicIP": False,
            "enableEncryptionAtHost": True,
            "securityProfile": {"sshAccess": "Disabled"},
        },
    ],
}

BARE: dict[str, Any] = {
    "provisioningState": "Succeeded",
    "kubernetesVersion": "1.29.2",
    "agentPoolProfiles": [{"name": "nodepool1", "count": 3, "vmSize": "Standard_DS2_v2", "mode": "System"}],
}


def cluster(properties: dict[str, Any], identity: dict[str, Any] | None = None, **changes: Any) -> Resource:
    """A cluster row; `changes` set dotted paths under properties ("a__b" means a.b), None deletes."""
    props = copy.deepcopy(properties)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = props
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return resource(
        CLUSTER_TYPE,
        "aks-inference",
        props,
        identity=identity if identity is not None else {"type": "SystemAssigned", "principalId": "p", "tenantId": "t"},
        sku={"name": "Base", "tier": "Standard"},
    )


def public_cluster(**changes: Any) -> Resource:
    """The hardened cluster with a public API server (no authorized ranges unless given)."""
    changes.setdefault("apiServerAccessProfile", {"enablePrivateCluster": False})
    return cluster(HARDENED, **changes)


def with_pool(**pool_changes: Any) -> Resource:
    """The hardened cluster with its second ('gpu') pool changed."""
    pools = copy.deepcopy(HARDENED["agentPoolProfiles"])
    pools[1].update(pool_changes)
    return cluster(HARDENED, agentPoolProfiles=pools)


ALL_IDS = [f"MLW-AKS-{n:02d}" for n in range(1, 22)]

# (check, failing cluster, status of the bare cluster whose properties are absent)
CASES: list[tuple[str, Resource, Status]] = [
    ("MLW-AKS-01", public_cluster(), Status.FAIL),
    ("MLW-AKS-02", public_cluster(), Status.FAIL),
    ("MLW-AKS-03", cluster(HARDENED, disableLocalAccounts=False), Status.FAIL),
    ("MLW-AKS-04", cluster(HARDENED, aadProfile=None), Status.FAIL),
    ("MLW-AKS-05", cluster(HARDENED, aadProfile__enableAzureRBAC=False), Status.FAIL),
    ("MLW-AKS-06", cluster(HARDENED, enableRBAC=False), Status.PASS),
    (
        "MLW-AKS-07",
        cluster(HARDENED, identity={}, servicePrincipalProfile={"clientId": "3f0c5f7e-6a9e-4c1e-9a57-1b2c3d4e5f60"}),
        Status.FAIL,
    ),
    ("MLW-AKS-08", cluster(HARDENED, securityProfile__workloadIdentity={"enabled": False}), Status.FAIL),
    ("MLW-AKS-09", cluster(HARDENED, addonProfiles__azureKeyvaultSecretsProvider={"enabled": False}), Status.FAIL),
    (
        "MLW-AKS-10",
        cluster(
            HARDENED,
            addonProfiles__azureKeyvaultSecretsProvider={"enabled": True, "config": {"enableSecretRotation": "false"}},
        ),
        Status.NOT_APPLICABLE,
    ),
    ("MLW-AKS-11", cluster(HARDENED, securityProfile__azureKeyVaultKms={"enabled": False}), Status.FAIL),
    ("MLW-AKS-12", cluster(HARDENED, diskEncryptionSetID=""), Status.FAIL),
    ("MLW-AKS-13", with_pool(enableEncryptionAtHost=False), Status.FAIL),
    ("MLW-AKS-14", with_pool(enableNodePublicIP=True), Status.PASS),
    (
        "MLW-AKS-15",
        cluster(HARDENED, networkProfile={"networkPlugin": "kubenet", "networkPolicy": "none"}),
        Status.FAIL,
    ),
    (
        "MLW-AKS-16",
        cluster(HARDENED, securityProfile__defender={"securityMonitoring": {"enabled": False}}),
        Status.FAIL,
    ),
    ("MLW-AKS-17", cluster(HARDENED, addonProfiles__azurepolicy={"enabled": False}), Status.FAIL),
    ("MLW-AKS-18", cluster(HARDENED, addonProfiles__httpApplicationRouting={"enabled": True}), Status.PASS),
    ("MLW-AKS-19", with_pool(securityProfile={"sshAccess": "LocalUser"}), Status.FAIL),
    ("MLW-AKS-20", cluster(HARDENED, apiServerAccessProfile={"enablePrivateCluster": True}), Status.FAIL),
    ("MLW-AKS-21", cluster(HARDENED, autoUpgradeProfile={"upgradeChannel": "none"}), Status.FAIL),
]


def test_every_aks_rule_has_a_case() -> None:
    assert [case[0] for case in CASES] == ALL_IDS


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_hardened_cluster_passes(check_id: str) -> None:
    expected = Status.NOT_APPLICABLE if check_id == "MLW-AKS-02" else Status.PASS
    assert status(check_id, cluster(HARDENED)) is expected


@pytest.mark.parametrize(("check_id", "target", "_bare"), CASES, ids=ALL_IDS)
def test_misconfigured_cluster_fails(check_id: str, target: Resource, _bare: Status) -> None:
    assert status(check_id, target) is Status.FAIL


@pytest.mark.parametrize(("check_id", "_target", "bare"), CASES, ids=ALL_IDS)
def test_absent_properties_score_as_the_service_default(check_id: str, _target: Resource, bare: Status) -> None:
    assert status(check_id, cluster(BARE, identity={})) is bare


def test_every_verdict_carries_evidence_and_a_message() -> None:
    for check_id in ALL_IDS:
        for target in (cluster(HARDENED), cluster(BARE, identity={})):
            (finding,) = run(check_id, target)
            assert finding.evidence, check_id
            assert finding.message.strip(), check_id


# -- API server exposure --------------------------------------------------------------------


def test_public_api_server_with_authorized_ranges_passes() -> None:
    target = public_cluster(
        apiServerAccessProfile={"enablePrivateCluster": False, "authorizedIPRanges": ["203.0.113.0/24"]}
    )
    assert status("MLW-AKS-02", target) is Status.PASS


def test_authorized_range_of_the_whole_internet_fails() -> None:
    target = public_cluster(apiServerAccessProfile={"authorizedIPRanges": ["203.0.113.0/24", "0.0.0.0/0"]})
    (finding,) = run("MLW-AKS-02", target)
    assert finding.status is Status.FAIL
    assert "0.0.0.0/0" in finding.message


def test_authorized_ranges_do_not_apply_to_a_private_api_server() -> None:
    assert status("MLW-AKS-02", cluster(HARDENED)) is Status.NOT_APPLICABLE


# -- identity -------------------------------------------------------------------------------


def test_legacy_entra_integration_fails() -> None:
    target = cluster(HARDENED, aadProfile={"managed": False, "clientAppID": "a", "serverAppID": "b"})
    assert status("MLW-AKS-04", target) is Status.FAIL


def test_identity_type_is_read_as_a_comma_separated_set() -> None:
    target = cluster(HARDENED, identity={"type": "SystemAssigned, UserAssigned"}, servicePrincipalProfile=None)
    assert status("MLW-AKS-07", target) is Status.PASS


def test_msi_client_id_counts_as_managed_identity_like_azure_policy() -> None:
    assert status("MLW-AKS-07", cluster(HARDENED, identity={"type": "None"})) is Status.PASS


def test_divergence_absent_enable_rbac_passes_like_azure_policy() -> None:
    assert status("MLW-AKS-06", cluster(HARDENED, enableRBAC=None)) is Status.PASS


def test_workload_identity_without_oidc_issuer_fails() -> None:
    assert status("MLW-AKS-08", cluster(HARDENED, oidcIssuerProfile={"enabled": False})) is Status.FAIL


def test_divergence_entra_id_ssh_passes_unlike_azure_policy() -> None:
    assert status("MLW-AKS-19", with_pool(securityProfile={"sshAccess": "EntraId"})) is Status.PASS


# -- add-on key casing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["azureKeyvaultSecretsProvider", "azureKeyVaultSecretsProvider", "AZUREKEYVAULTSECRETSPROVIDER"]
)
def test_csi_addon_key_matches_in_any_case(key: str) -> None:
    addons = {key: {"enabled": True, "config": {"enableSecretRotation": "true"}}}
    target = cluster(HARDENED, addonProfiles=addons)
    assert status("MLW-AKS-09", target) is Status.PASS
    assert status("MLW-AKS-10", target) is Status.PASS


@pytest.mark.parametrize("key", ["azurepolicy", "azurePolicy"])
def test_policy_addon_key_matches_in_any_case(key: str) -> None:
    assert status("MLW-AKS-17", cluster(HARDENED, addonProfiles={key: {"enabled": True}})) is Status.PASS


def test_csi_rotation_string_false_fails() -> None:
    addons = {"azureKeyvaultSecretsProvider": {"enabled": True, "config": {"enableSecretRotation": "false"}}}
    assert status("MLW-AKS-10", cluster(HARDENED, addonProfiles=addons)) is Status.FAIL


# -- encryption -----------------------------------------------------------------------------


def test_kms_with_public_key_vault_passes_and_says_so() -> None:
    kms = {"enabled": True, "keyId": "https://kv.vault.azure.net/keys/etcd/1", "keyVaultNetworkAccess": "Public"}
    (finding,) = run("MLW-AKS-11", cluster(HARDENED, securityProfile__azureKeyVaultKms=kms))
    assert finding.status is Status.PASS
    assert "public" in finding.message


def test_kms_enabled_without_key_passes_and_says_no_key_is_named() -> None:
    """Policy dbbdc317 tests azureKeyVaultKms.enabled only; the AKS API refuses enabled without a keyId."""
    (finding,) = run("MLW-AKS-11", cluster(HARDENED, securityProfile__azureKeyVaultKms={"enabled": True}))
    assert finding.status is Status.PASS
    assert "names no key identifier" in finding.message


# -- node pools -----------------------------------------------------------------------------


def test_failing_pool_is_named_and_passing_pool_is_not() -> None:
    (finding,) = run("MLW-AKS-13", with_pool(enableEncryptionAtHost=False))
    assert "gpu" in finding.message
    assert "system" not in finding.message
    paths = {e.path: e.value for e in finding.evidence}
    assert paths["properties.agentPoolProfiles[gpu].enableEncryptionAtHost"] is False
    assert paths["properties.agentPoolProfiles[system].enableEncryptionAtHost"] is True


def test_node_public_ip_names_the_pool() -> None:
    (finding,) = run("MLW-AKS-14", with_pool(enableNodePublicIP=True))
    assert finding.status is Status.FAIL
    assert "gpu" in finding.message


def test_absent_ssh_access_means_local_user_and_fails() -> None:
    (finding,) = run("MLW-AKS-19", with_pool(securityProfile=None))
    assert finding.status is Status.FAIL
    assert "gpu" in finding.message


def test_cluster_row_without_node_pools_is_a_coverage_gap() -> None:
    target = cluster(HARDENED, agentPoolProfiles=None)
    for check_id in ("MLW-AKS-13", "MLW-AKS-14", "MLW-AKS-19"):
        assert status(check_id, target) is Status.UNKNOWN


# -- network and upgrades -------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["azure", "Calico", "cilium"])
def test_any_network_policy_engine_passes(engine: str) -> None:
    assert status("MLW-AKS-15", cluster(HARDENED, networkProfile__networkPolicy=engine)) is Status.PASS


def test_node_os_channel_unmanaged_fails_even_with_cluster_channel() -> None:
    target = cluster(HARDENED, autoUpgradeProfile={"upgradeChannel": "stable", "nodeOSUpgradeChannel": "Unmanaged"})
    (finding,) = run("MLW-AKS-21", target)
    assert finding.status is Status.FAIL
    assert "node OS" in finding.message
    assert "cluster auto-upgrade" not in finding.message
