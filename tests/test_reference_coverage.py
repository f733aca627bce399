"""Public reference cases for the checks tests/test_reference_fixtures.py left without one, scanned
through the real CLI as a snapshot and as an ARM template, both verdicts where the reference has both.

Records are our own, in the shapes the references show (see that module's docstring for where each
kind of reference lives); each case names the definition, rule or example it reproduces.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.checks.reference_scan import arm_id, as_template, record, scan_snapshot, scan_template, status

Found = dict[tuple[str, str], list[dict[str, Any]]]
Group = tuple[str, list[dict[str, Any]], str, dict[str, str]]
"""(where the shape comes from, the records, the judged resource's name, expected status per check id)."""

PASS, FAIL, NA = "pass", "fail", "not_applicable"
ST = "Microsoft.Storage/storageAccounts"
ACR = "Microsoft.ContainerRegistry/registries"
AKS = "Microsoft.ContainerService/managedClusters"
WEB = "Microsoft.Web/sites"
WS = "Microsoft.MachineLearningServices/workspaces"
_DEPLOYMENT = f"{WS}/onlineEndpoints/deployments"
_POOL = [{"name": "system", "count": 3, "vmSize": "Standard_D4ds_v5", "mode": "System", "osType": "Linux"}]
_KEY_ID = "https://kv-ref.vault.azure.net/keys/etcd/0123456789abcdef0123456789abcdef"


def _cluster(name: str, **properties: Any) -> dict[str, Any]:
    body = {"kubernetesVersion": "1.30.3", "dnsPrefix": name, "agentPoolProfiles": _POOL, **properties}
    return record(AKS, name, body, identity={"type": "SystemAssigned"})


def _site(name: str, **properties: Any) -> dict[str, Any]:
    return record(WEB, name, {"httpsOnly": True, **properties}, kind="app,linux")


def _config(site: str, **settings: Any) -> dict[str, Any]:
    return record(f"{WEB}/config", f"{site}/web", settings)


def _token(registry: str, name: str, state: str) -> dict[str, Any]:
    scope_map = f"{arm_id(ACR, registry)}/scopeMaps/_repositories_pull"
    return record(f"{ACR}/tokens", f"{registry}/{name}", {"scopeMapId": scope_map, "status": state})


def _deployment(name: str, **properties: Any) -> dict[str, Any]:
    return record(_DEPLOYMENT, f"mlw-cov/ep-cov/{name}", properties, kind=properties.get("endpointComputeType"))


GROUPS: list[Group] = [
    (
        "Policy ff05e24e (tokens/status notEquals 'disabled'): one verdict per token, named by its detail key",
        [record(ACR, "acrtokens", {}, sku={"name": "Premium"}), _token("acrtokens", "ci-pull", "enabled")],
        "acrtokens",
        {"MLW-ACR-09": FAIL},
    ),
    (
        "Policy dbbdc317 / REST ManagedClustersCreate_AzureKeyvaultSecretsProvider-style securityProfile: KMS on",
        [
            _cluster(
                "aks-kms",
                securityProfile={
                    "azureKeyVaultKms": {"enabled": True, "keyId": _KEY_ID, "keyVaultNetworkAccess": "Public"}
                },
                diskEncryptionSetID=f"/subscriptions/{'0' * 8}-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                "Microsoft.Compute/diskEncryptionSets/des-aks",
                addonProfiles={"httpApplicationRouting": {"enabled": False}},
            )
        ],
        "aks-kms",
        {"MLW-AKS-11": PASS, "MLW-AKS-12": PASS, "MLW-AKS-18": PASS},
    ),
    (
        "Policy dbbdc317 / 7d7be79c and PSRule Azure.AKS.HttpAppRouting: KMS off, no disk encryption set, routing on",
        [
            _cluster(
                "aks-plain",
                securityProfile={"azureKeyVaultKms": {"enabled": False}},
                addonProfiles={"httpapplicationrouting": {"enabled": True, "config": {}}},
            )
        ],
        "aks-plain",
        {"MLW-AKS-11": FAIL, "MLW-AKS-12": FAIL, "MLW-AKS-18": FAIL},
    ),
    (
        "Policy af1d7e88 / 687aa49d: end-to-end encryption on, private endpoint connection Approved",
        [
            _site(
                "app-e2e",
                endToEndEncryptionEnabled=True,
                privateEndpointConnections=[
                    {
                        "id": f"{arm_id(WEB, 'app-e2e')}/privateEndpointConnections/pe-app",
                        "properties": {
                            "privateEndpoint": {"id": arm_id("Microsoft.Network/privateEndpoints", "pe-app")},
                            "privateLinkServiceConnectionState": {"status": "Approved"},
                        },
                    }
                ],
                sku="PremiumV3",
            ),
            _config(
                "app-e2e", cors={"allowedOrigins": ["https://portal.contoso.example"], "supportCredentials": False}
            ),
        ],
        "app-e2e",
        {"MLW-APP-03": PASS, "MLW-APP-08": PASS, "MLW-CFG-04": PASS},
    ),
    (
        "Policy af1d7e88 / 687aa49d / 5744710e: no end-to-end encryption, no private endpoint, CORS '*'",
        [_site("app-open", sku="Standard"), _config("app-open", cors={"allowedOrigins": ["*"]})],
        "app-open",
        {"MLW-APP-03": FAIL, "MLW-APP-08": FAIL, "MLW-CFG-04": FAIL},
    ),
    (
        "REST 2024-10-01 OnlineDeployment (Managed): egressPublicNetworkAccess Disabled",
        [_deployment("closed", endpointComputeType="Managed", egressPublicNetworkAccess="Disabled")],
        "closed",
        {"MLW-MLDEP-02": PASS},
    ),
    (
        "REST 2024-10-01 OnlineDeployment (Managed): egressPublicNetworkAccess Enabled, no managed network",
        [
            record(WS, "mlw-cov", {"publicNetworkAccess": "Disabled"}, kind="Default"),
            _deployment("open", endpointComputeType="Managed", egressPublicNetworkAccess="Enabled"),
        ],
        "open",
        {"MLW-MLDEP-02": FAIL},
    ),
    (
        "REST 2024-10-01 OnlineDeployment (Kubernetes): no egress flag, the cluster governs egress",
        [_deployment("k8s", endpointComputeType="Kubernetes", instanceType="defaultinstancetype")],
        "k8s",
        {"MLW-MLDEP-02": NA},
    ),
    (
        "REST 2024-10-01 Workspace: systemDatastoresAuthMode 'identity' (KnownSystemDatastoresAuthMode, any casing)",
        [record(WS, "mlw-ds-identity", {"systemDatastoresAuthMode": "identity"}, kind="Default")],
        "mlw-ds-identity",
        {"MLW-MLWS-07": PASS},
    ),
    (
        "REST 2024-10-01 Workspace: systemDatastoresAuthMode AccessKey (the default)",
        [record(WS, "mlw-ds-keys", {"systemDatastoresAuthMode": "AccessKey"}, kind="Default")],
        "mlw-ds-keys",
        {"MLW-MLWS-07": FAIL},
    ),
    (
        "Policy 6edd7eda / 4733ea7b / 92a89a79: approved link, infrastructure encryption, no cross-tenant replication",
        [
            record(
                ST,
                "stcovhard",
                {
                    "encryption": {"keySource": "Microsoft.Storage", "requireInfrastructureEncryption": True},
                    "allowCrossTenantReplication": False,
                    "privateEndpointConnections": [
                        {
                            "id": f"{arm_id(ST, 'stcovhard')}/privateEndpointConnections/pe-st",
                            "properties": {"privateLinkServiceConnectionState": {"status": "Approved"}},
                        }
                    ],
                },
                kind="StorageV2",
            )
        ],
        "stcovhard",
        {"MLW-ST-06": PASS, "MLW-ST-09": PASS, "MLW-ST-10": PASS},
    ),
    (
        "Policy 6edd7eda / 4733ea7b / 92a89a79: no link, single encryption, cross-tenant replication allowed",
        [
            record(
                ST,
                "stcovopen",
                {"encryption": {"keySource": "Microsoft.Storage"}, "allowCrossTenantReplication": True},
                kind="StorageV2",
            )
        ],
        "stcovopen",
        {"MLW-ST-06": FAIL, "MLW-ST-09": FAIL, "MLW-ST-10": FAIL},
    ),
]

_ACA_ENV = arm_id("Microsoft.App/managedEnvironments", "cae")
_HOST_CHECKS = ("MLW-APP-01", "MLW-APP-02", "MLW-APP-07", "MLW-APP-08", "MLW-CFG-01", "MLW-CFG-02", "MLW-CFG-04")
GROUPS.append(
    (
        "Azure Policy's function-app definitions skip kind azurecontainerapps (Functions on Container Apps): "
        "the environment, not App Service, sets ingress, network and TLS; identity is still the app's",
        [
            record(
                WEB,
                "func-aca",
                {"managedEnvironmentId": _ACA_ENV, "siteConfig": {"linuxFxVersion": "DOCKER|mcr.microsoft.com/x:1"}},
                kind="functionapp,linux,container,azurecontainerapps",
                identity={"type": "SystemAssigned"},
            ),
            _config("func-aca", ftpsState="AllAllowed", minTlsVersion="1.0", cors={"allowedOrigins": ["*"]}),
        ],
        "func-aca",
        {**dict.fromkeys(_HOST_CHECKS, NA), "MLW-APP-04": PASS},
    )
)

_COMPUTE = f"{WS}/computes"
GROUPS += [
    (
        "Policy 7804b5c7 judges computeType AmlCompute and ComputeInstance only (PSRule ComputeVnet tests every "
        "type); e96a9a5f judges local auth on every type: an attached VM without disableLocalAuth",
        [
            record(
                _COMPUTE,
                "mlw-cov/vm-attached",
                {"computeType": "VirtualMachine", "resourceId": arm_id("Microsoft.Compute/virtualMachines", "vm1")},
            )
        ],
        "vm-attached",
        {"MLW-MLCMP-01": FAIL, "MLW-MLCMP-02": NA, "MLW-MLCMP-03": NA, "MLW-MLCMP-04": NA},
    ),
    (
        "REST 2024-10-01 Compute (Kubernetes, attached AKS): judged by the AKS rules, not the compute rules",
        [record(_COMPUTE, "mlw-cov/aks-attached", {"computeType": "Kubernetes", "resourceId": arm_id(AKS, "aks-kms")})],
        "aks-attached",
        {"MLW-MLCMP-01": NA, "MLW-MLCMP-02": NA},
    ),
]

GROUPS.append(
    (
        "Policy 6fac406b (encryption.keySource equals Microsoft.Keyvault, nothing more): no vault URI or key named",
        [record(ST, "stcmkbare", {"encryption": {"keySource": "Microsoft.Keyvault"}}, kind="StorageV2")],
        "stcmkbare",
        {"MLW-ST-08": PASS},
    )
)

API_VERSIONS = {
    ST: "2023-05-01",
    ACR: "2023-07-01",
    f"{ACR}/tokens": "2023-07-01",
    AKS: "2024-09-01",
    WEB: "2023-12-01",
    f"{WEB}/config": "2023-12-01",
    WS: "2024-10-01",
    _DEPLOYMENT: "2024-10-01",
    _COMPUTE: "2024-10-01",
}


def _bodies() -> list[dict[str, Any]]:
    return [body for _, bodies, _, _ in GROUPS for body in bodies]


def _expectations() -> list[tuple[str, str, str, str]]:
    return [(source, name, check_id, want) for source, _, name, checks in GROUPS for check_id, want in checks.items()]


@pytest.fixture(scope="module")
def snapshot_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_snapshot(tmp_path_factory.mktemp("coverage"), *_bodies())


@pytest.fixture(scope="module")
def template_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    declared = [as_template(body, API_VERSIONS[body["type"]]) for body in _bodies()]
    return scan_template(tmp_path_factory.mktemp("coverage-template"), *declared)


@pytest.mark.parametrize(("source", "name", "check_id", "want"), _expectations())
@pytest.mark.parametrize("scanned", ["snapshot_findings", "template_findings"])
def test_verdicts_match_the_references(
    request: pytest.FixtureRequest, scanned: str, source: str, name: str, check_id: str, want: str
) -> None:
    found: Found = request.getfixturevalue(scanned)
    finding = found.get((check_id, name), [{}])[0]
    assert status(found, check_id, name) == want, (source, finding.get("message"), finding.get("evidence"))


KV = "Microsoft.KeyVault/vaults"
_ROTATE = {"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P90D"}}
_NOTIFY = {"action": {"type": "notify"}, "trigger": {"timeBeforeExpiry": "P30D"}}
KEY_TEMPLATE: list[dict[str, Any]] = [
    {
        "type": KV,
        "apiVersion": "2023-07-01",
        "name": "kv-keys",
        "location": "westeurope",
        "properties": {"tenantId": "00000000-0000-0000-0000-0000000000aa", "sku": {"family": "A", "name": "premium"}},
    },
    {
        "type": f"{KV}/keys",
        "apiVersion": "2023-07-01",
        "name": "kv-keys/cmk-hsm",
        "properties": {
            "kty": "RSA-HSM",
            "keySize": 3072,
            "attributes": {"enabled": True, "exp": 1893456000},
            "rotationPolicy": {"lifetimeActions": [_ROTATE, _NOTIFY], "attributes": {"expiryTime": "P1Y"}},
        },
    },
    {
        "type": f"{KV}/keys",
        "apiVersion": "2023-07-01",
        "name": "kv-keys/cmk-soft",
        "properties": {
            "kty": "RSA",
            "keySize": 2048,
            "attributes": {"enabled": True},
            "rotationPolicy": {"lifetimeActions": [_NOTIFY], "attributes": {"expiryTime": "P1Y"}},
        },
    },
    *(
        {
            "type": ST,
            "apiVersion": "2023-05-01",
            "name": f"stuses{key.split('-')[1]}",
            "location": "westeurope",
            "kind": "StorageV2",
            "sku": {"name": "Standard_LRS"},
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "encryption": {
                    "keySource": "Microsoft.Keyvault",
                    "keyvaultproperties": {"keyvaulturi": "https://kv-keys.vault.azure.net", "keyname": key},
                }
            },
        }
        for key in ("cmk-hsm", "cmk-soft")
    ),
]
KEY_EXPECTED = [
    # REST 2023-07-01 vaults/keys PUT shapes; Policy 152b15f7 (expiry), d8cf8476 / PSRule
    # Azure.KeyVault.AutoRotationPolicy (a Rotate action), 587c79fe (HSM-backed CMK keys).
    # cmk-soft's rotationPolicy expiryTime does not give the current version an expiry: MLW-KV-07's rationale.
    ("MLW-KV-07", "cmk-hsm", PASS),
    ("MLW-KV-07", "cmk-soft", FAIL),
    ("MLW-KV-08", "cmk-hsm", PASS),
    ("MLW-KV-08", "cmk-soft", FAIL),
    ("MLW-KV-11", "cmk-hsm", PASS),
    ("MLW-KV-11", "cmk-soft", FAIL),
]


def test_template_keys_match_the_references(tmp_path_factory: pytest.TempPathFactory) -> None:
    found = scan_template(tmp_path_factory.mktemp("coverage-keys"), *KEY_TEMPLATE)
    verdicts = {(check_id, f.get("detail_key")): f["status"] for (check_id, _), fs in found.items() for f in fs}
    assert [(c, k, verdicts.get((c, k))) for c, k, _ in KEY_EXPECTED] == KEY_EXPECTED


@pytest.mark.parametrize(("api_version", "want"), [("2018-07-01", FAIL), ("2019-04-01", PASS), ("2023-05-01", PASS)])
def test_secure_transfer_left_out_scores_by_api_version(
    tmp_path_factory: pytest.TempPathFactory, api_version: str, want: str
) -> None:
    """Policy 404c3081 and Checkov CKV_AZURE_3: an absent supportsHttpsTrafficOnly fails before API version
    2019-04-01 (the default was false) and passes from it (the default became true)."""
    account = {
        "type": ST,
        "apiVersion": api_version,
        "name": "stlegacyapi",
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "properties": {"minimumTlsVersion": "TLS1_2"},
    }
    found = scan_template(tmp_path_factory.mktemp("coverage-api"), account)
    assert status(found, "MLW-ST-01", "stlegacyapi") == want
