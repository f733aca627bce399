"""PSRule for Azure's AKS test clusters rewritten in mlwarden's snapshot and template forms, with PSRule's expected
outcome beside mlwarden's verdict and every disagreement decided.

Facts come from Azure/PSRule.Rules.Azure tests/PSRule.Rules.Azure.Tests/Resources.AKS.json (PSRule's envelope:
`ResourceId`/`Properties`, diagnostic settings nested under `resources`) and the outcomes Azure.AKS.Tests.ps1
expects of them. The records below are our own, in Resource Graph's shape, keeping each fact that the rules
read, in the casing the fixture uses (lower-case add-on keys on cluster-A, `authorizedIpRanges` and
`enableAzureRbac` on cluster-F, `enableSecretRotation` "False" on cluster-K):

- cluster-A: service principal, no AAD profile, public API server without ranges, no network policy, HTTP
  application routing on, no Azure Policy or secrets-store add-on, no auto-upgrade.
- cluster-F: managed identity, local accounts disabled, managed AAD with Azure RBAC, authorized range
  0.0.0.0/32, network policy azure, HTTP application routing on, secrets store on without rotation, channels
  rapid and SecurityPatch.
- cluster-K: user-assigned identity, local accounts left on, managed AAD with Azure RBAC, public without
  ranges, network policy azure, secrets store on with rotation "False", upgrade channel stable and no node OS
  channel.
- cluster-L: like K but private, secret rotation "true", HTTP application routing present and disabled,
  upgrade channel none.

PSRule's "None" (the rule's precondition excludes the cluster) is compared with not_applicable.

Disagreement, decided:

1. cluster-K, Azure.AKS.AutoUpgrade: PSRule passes any cluster channel but 'none'; MLW-AKS-21 also requires a
   node OS upgrade channel (SecurityPatch or NodeImage, as Azure Policy 04408ca5 reads it) and fails an absent
   one: on older clusters no node OS channel means node images are not patched automatically. Kept (the
   check's rationale states it).

Everything else agrees, including the case-insensitive add-on keys and property names.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.checks.reference_scan import as_template, record, scan_snapshot, scan_template, status

Found = dict[tuple[str, str], list[dict[str, Any]]]
PASS, FAIL, NA = "pass", "fail", "not_applicable"
AKS = "Microsoft.ContainerService/managedClusters"
API = "2023-02-01"
_LAW = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/defaultresourcegroup-eus/providers/"
    "microsoft.operationalinsights/workspaces/defaultworkspace-eus"
)
_UAMI = {
    "type": "UserAssigned",
    "userAssignedIdentities": {
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/test-rg/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/mi-A": {"clientId": "c", "principalId": "p"}
    },
}


def _pool(name: str, mode: str = "System", pool_type: str = "VirtualMachineScaleSets") -> dict[str, Any]:
    return {"name": name, "count": 3, "vmSize": "Standard_D2s_v3", "type": pool_type, "mode": mode, "osType": "Linux"}


CLUSTER_A = record(
    AKS,
    "cluster-A",
    {
        "kubernetesVersion": "1.32.7",
        "dnsPrefix": "cluster-A",
        "agentPoolProfiles": [_pool("agentpool", pool_type="AvailabilitySet")],
        "servicePrincipalProfile": {"clientId": "00000000-0000-0000-0000-000000000000"},
        "addonProfiles": {
            "httpapplicationrouting": {"enabled": True, "config": {"httpapplicationroutingzonename": "zone.aksapp.io"}},
            "omsagent": {"enabled": False, "config": {"loganalyticsworkspaceresourceid": _LAW}},
        },
        "enableRBAC": True,
        "networkProfile": {"networkPlugin": "azure", "loadBalancerSku": "Basic"},
    },
)
CLUSTER_F = record(
    AKS,
    "cluster-F",
    {
        "kubernetesVersion": "1.32.7",
        "dnsPrefix": "cluster-F",
        "agentPoolProfiles": [_pool("system")],
        "servicePrincipalProfile": {"clientId": "msi"},
        "addonProfiles": {
            "azureKeyvaultSecretsProvider": {"enabled": True, "config": {"enableSecretRotation": "false"}},
            "azurepolicy": {"enabled": True, "config": None},
            "httpApplicationRouting": {"enabled": True, "config": {"HTTPApplicationRoutingZoneName": "z.aksapp.io"}},
            "omsagent": {"enabled": True, "config": {"logAnalyticsWorkspaceResourceID": _LAW}},
        },
        "disableLocalAccounts": True,
        "enableRBAC": True,
        "networkProfile": {"networkPlugin": "azure", "networkPolicy": "azure", "loadBalancerSku": "Standard"},
        "aadProfile": {"managed": True, "enableAzureRbac": True, "adminGroupObjectIDs": [], "tenantID": "t"},
        "autoUpgradeProfile": {"upgradeChannel": "rapid", "nodeOSUpgradeChannel": "SecurityPatch"},
        "apiServerAccessProfile": {"authorizedIpRanges": ["0.0.0.0/32"], "enablePrivateCluster": None},
    },
)
_MANAGED = {
    "kubernetesVersion": "1.32.7",
    "servicePrincipalProfile": {"clientId": "msi"},
    "enableRBAC": True,
    "networkProfile": {"networkPlugin": "azure", "networkPolicy": "azure", "loadBalancerSku": "Standard"},
    "aadProfile": {"managed": True, "adminGroupObjectIDs": None, "enableAzureRBAC": True, "tenantID": "t"},
}
CLUSTER_K = record(
    AKS,
    "cluster-K",
    {
        **_MANAGED,
        "dnsPrefix": "cluster-K",
        "agentPoolProfiles": [_pool("system")],
        "addonProfiles": {
            "azureKeyvaultSecretsProvider": {"enabled": True, "config": {"enableSecretRotation": "False"}},
            "azurepolicy": {"enabled": True, "config": None},
            "omsagent": {"enabled": True, "config": {"logAnalyticsWorkspaceResourceID": _LAW}},
        },
        "autoUpgradeProfile": {"upgradeChannel": "stable"},
    },
    identity=_UAMI,
    sku={"name": "Basic", "tier": "Standard"},
)
CLUSTER_L = record(
    AKS,
    "cluster-L",
    {
        **_MANAGED,
        "dnsPrefix": "nnn-cluster-L",
        "agentPoolProfiles": [_pool("system-L"), _pool("user-L", mode="User")],
        "addonProfiles": {
            "azureKeyvaultSecretsProvider": {"enabled": True, "config": {"enableSecretRotation": "true"}},
            "azurepolicy": {"enabled": True, "config": None},
            "httpApplicationRouting": {"enabled": False, "config": {"HTTPApplicationRoutingZoneName": "n.aksapp.io"}},
            "omsagent": {"enabled": True, "config": {"logAnalyticsWorkspaceResourceID": _LAW}},
        },
        "autoUpgradeProfile": {"upgradeChannel": "none"},
        "apiServerAccessProfile": {"enablePrivateCluster": True, "enablePrivateClusterPublicFQDN": False},
    },
    identity=_UAMI,
    sku={"name": "Basic", "tier": "Standard"},
)

# PSRule rule -> mlwarden check, and PSRule's expected outcome per cluster (from Azure.AKS.Tests.ps1).
EXPECTED: dict[tuple[str, str], dict[str, str]] = {
    ("Azure.AKS.LocalAccounts", "MLW-AKS-03"): {"cluster-A": FAIL, "cluster-F": PASS, "cluster-K": FAIL},
    ("Azure.AKS.AuthorizedIPs", "MLW-AKS-02"): {
        "cluster-A": FAIL,
        "cluster-F": PASS,
        "cluster-K": FAIL,
        "cluster-L": NA,
    },
    ("Azure.AKS.ManagedAAD", "MLW-AKS-04"): {"cluster-A": FAIL, "cluster-F": PASS, "cluster-K": PASS},
    ("Azure.AKS.AzureRBAC", "MLW-AKS-05"): {"cluster-A": FAIL, "cluster-F": PASS, "cluster-K": PASS},
    ("Azure.AKS.ManagedIdentity", "MLW-AKS-07"): {"cluster-A": FAIL, "cluster-K": PASS, "cluster-L": PASS},
    ("Azure.AKS.SecretStore", "MLW-AKS-09"): {"cluster-A": FAIL, "cluster-F": PASS, "cluster-K": PASS},
    ("Azure.AKS.SecretStoreRotation", "MLW-AKS-10"): {
        "cluster-A": NA,
        "cluster-F": FAIL,
        "cluster-K": FAIL,
        "cluster-L": PASS,
    },
    ("Azure.AKS.NetworkPolicy", "MLW-AKS-15"): {"cluster-A": FAIL, "cluster-F": PASS, "cluster-K": PASS},
    ("Azure.AKS.AzurePolicyAddOn", "MLW-AKS-17"): {"cluster-A": FAIL, "cluster-F": PASS, "cluster-L": PASS},
    ("Azure.AKS.HttpAppRouting", "MLW-AKS-18"): {
        "cluster-A": FAIL,
        "cluster-F": FAIL,
        "cluster-K": PASS,
        "cluster-L": PASS,
    },
    ("Azure.AKS.AutoUpgrade", "MLW-AKS-21"): {
        "cluster-A": FAIL,
        "cluster-F": PASS,
        "cluster-K": PASS,
        "cluster-L": FAIL,
    },
}

DISAGREEMENTS = {("Azure.AKS.AutoUpgrade", "cluster-K"): "1: no node OS upgrade channel"}
"""Where mlwarden's verdict (snapshot and template alike) differs from PSRule's, and why."""

CLUSTERS = [CLUSTER_A, CLUSTER_F, CLUSTER_K, CLUSTER_L]


@pytest.fixture(scope="module")
def snapshot_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_snapshot(tmp_path_factory.mktemp("psrule-aks"), *CLUSTERS)


@pytest.fixture(scope="module")
def template_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_template(tmp_path_factory.mktemp("psrule-aks-tpl"), *(as_template(c, API) for c in CLUSTERS))


def _rows() -> list[tuple[str, str, str, str]]:
    return [(rule, check_id, target, want) for (rule, check_id), by in EXPECTED.items() for target, want in by.items()]


def _flip(want: str) -> str:
    return {PASS: FAIL, FAIL: PASS}.get(want, want)


@pytest.mark.parametrize(("rule", "check_id", "target", "psrule"), _rows())
@pytest.mark.parametrize("scanned", ["snapshot_findings", "template_findings"])
def test_mlwarden_verdict_beside_psrule(
    request: pytest.FixtureRequest, scanned: str, rule: str, check_id: str, target: str, psrule: str
) -> None:
    found: Found = request.getfixturevalue(scanned)
    want = _flip(psrule) if (rule, target) in DISAGREEMENTS else psrule
    assert status(found, check_id, target) == want, (rule, DISAGREEMENTS.get((rule, target)))


def test_auto_upgrade_disagreement_names_the_node_os_channel(snapshot_findings: Found) -> None:
    [finding] = snapshot_findings[("MLW-AKS-21", "cluster-K")]
    assert finding["message"] == "node OS auto-upgrade is not SecurityPatch or NodeImage"
