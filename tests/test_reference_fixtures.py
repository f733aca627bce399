"""Public reference cases, scanned through the real CLI: each verdict agrees with the reference tools
or differs where the check's rationale (or CHECKS.md's Divergences) says why.

The records are our own, reproducing the shapes these references show (no text copied):
- REST: Azure/azure-rest-api-specs GET examples (e.g. machinelearningservices/.../2024-10-01/examples/
  Compute/get/ComputeInstance.json, Workspace/get.json, OnlineEndpoint/createOrUpdate.json).
- PSRule: Azure/PSRule.Rules.Azure tests/PSRule.Rules.Azure.Tests/Resources.{Storage,ML,...}.json with
  the rules in src/PSRule.Rules.Azure/rules/Azure.*.Rule.{yaml,ps1}.
- Policy: Azure/azure-policy built-in-policies/policyDefinitions/<service>/*.json, by the GUIDs in
  CHECKS.md (their `if` conditions decide the expected verdicts).
- Checkov: bridgecrewio/checkov checkov/arm/checks/resource/*.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.checks.reference_scan import SUB, arm_id, as_template, record, scan_snapshot, scan_template, status

Found = dict[tuple[str, str], list[dict[str, Any]]]
Case = tuple[str, dict[str, Any], dict[str, str]]
"""(where the shape comes from, the ARM body, expected status per check id)."""

ST = "Microsoft.Storage/storageAccounts"
KV = "Microsoft.KeyVault/vaults"
ACR = "Microsoft.ContainerRegistry/registries"
AKS = "Microsoft.ContainerService/managedClusters"
WEB = "Microsoft.Web/sites"
WS = "Microsoft.MachineLearningServices/workspaces"
AI = "Microsoft.CognitiveServices/accounts"
_PE = "Microsoft.Network/privateEndpoints"

PASS, FAIL, NA = "pass", "fail", "not_applicable"
_ACL_ALLOW = {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [], "defaultAction": "Allow"}

STORAGE: list[Case] = [
    (
        "PSRule Resources.Storage.json storage-A: classic kind, no TLS or public-access properties",
        record(
            ST,
            "st-classic",
            {
                "networkAcls": _ACL_ALLOW,
                "supportsHttpsTrafficOnly": True,
                "encryption": {"keySource": "Microsoft.Storage"},
            },
            kind="Storage",
            sku={"name": "Standard_GRS", "tier": "Standard"},
        ),
        # PSRule MinTLS/BlobPublicAccess/Firewall/LocalAuth fail; policies fe83a0eb, 4fa4b6c0, 34c877ad fail absent.
        # Policy 8c6a50c6 (equals 'true') passes an absent allowSharedKeyAccess: MLW-ST-07's rationale says why not.
        {"MLW-ST-01": PASS, "MLW-ST-02": FAIL, "MLW-ST-03": FAIL, "MLW-ST-05": FAIL, "MLW-ST-07": FAIL},
    ),
    (
        "PSRule Resources.Storage.json storage-B: secure transfer off",
        record(ST, "st-http", {"supportsHttpsTrafficOnly": False, "networkAcls": _ACL_ALLOW}, kind="Storage"),
        {"MLW-ST-01": FAIL},
    ),
    (
        "PSRule Resources.Storage.json storage-D: Cloud Shell storage is excluded",
        record(ST, "st-shell", {}, kind="Storage", tags={"ms-resource-usage": "azure-cloud-shell"}),
        {"MLW-ST-01": NA, "MLW-ST-02": NA, "MLW-ST-03": NA, "MLW-ST-07": NA},
    ),
    (
        "REST 2023-05-01 storageAccounts GET: hardened account, CMK in lower-case keyvaultproperties",
        record(
            ST,
            "st-hardened",
            {
                "minimumTlsVersion": "TLS1_2",
                "allowBlobPublicAccess": False,
                "allowSharedKeyAccess": False,
                "supportsHttpsTrafficOnly": True,
                "publicNetworkAccess": "Disabled",
                "networkAcls": {**_ACL_ALLOW, "defaultAction": "Deny"},
                "encryption": {
                    "keySource": "Microsoft.Keyvault",
                    "keyvaultproperties": {"keyvaulturi": "https://kv.vault.azure.net", "keyname": "k1"},
                    "requireInfrastructureEncryption": True,
                },
            },
            kind="StorageV2",
        ),
        {f"MLW-ST-0{n}": PASS for n in (1, 2, 3, 4, 5, 7, 8, 9)},
    ),
    (
        "Policy 4fa4b6c0: null is absent; enums in other casing (Policy compares case-insensitively)",
        record(
            ST,
            "st-casing",
            {
                "minimumTlsVersion": "tls1_2",
                "allowSharedKeyAccess": None,
                "allowBlobPublicAccess": None,
                "publicNetworkAccess": "disabled",
                "networkAcls": {"defaultAction": "deny"},
                "encryption": {
                    "keySource": "Microsoft.KeyVault",
                    "keyVaultProperties": {"keyVaultUri": "u", "keyName": "k"},
                },
            },
            kind="StorageV2",
        ),
        {
            "MLW-ST-02": PASS,
            "MLW-ST-03": FAIL,
            "MLW-ST-04": PASS,
            "MLW-ST-05": PASS,
            "MLW-ST-07": FAIL,
            "MLW-ST-08": PASS,
        },
    ),
    (
        "REST 2023-05-01 publicNetworkAccess SecuredByPerimeter: a network security perimeter governs access",
        record(
            ST,
            "st-perimeter",
            {"publicNetworkAccess": "SecuredByPerimeter", "networkAcls": _ACL_ALLOW},
            kind="StorageV2",
        ),
        # Policy b2982f36 (notEquals Disabled) fails it; the firewall is replaced by the perimeter's rules.
        {"MLW-ST-04": FAIL, "MLW-ST-05": PASS},
    ),
    (
        "Divergence (MLW-ST-02 rationale): TLS1_3 is above the anchors' equality with TLS1_2",
        record(ST, "st-tls13", {"minimumTlsVersion": "TLS1_3"}, kind="StorageV2"),
        {"MLW-ST-02": PASS},
    ),
    (
        "PSRule Azure.Storage.BlobPublicAccess skips kind FileStorage",
        record(ST, "st-files", {"allowBlobPublicAccess": True}, kind="FileStorage"),
        {"MLW-ST-03": NA},
    ),
]

KEYVAULT: list[Case] = [
    (
        "REST 2023-07-01 vaults GET: defaults (soft delete on, no purge protection, access policies, public)",
        record(
            KV,
            "kv-default",
            {
                "tenantId": "00000000-0000-0000-0000-000000000001",
                "sku": {"family": "A", "name": "standard"},
                "accessPolicies": [],
                "enableSoftDelete": True,
                "softDeleteRetentionInDays": 90,
                "enableRbacAuthorization": False,
                "vaultUri": "https://kv-default.vault.azure.net/",
                "publicNetworkAccess": "Enabled",
            },
        ),
        # Policies 0b60c0b2, 12d4fa5e, 405c5871, 55615ac9 all flag this vault.
        {"MLW-KV-01": FAIL, "MLW-KV-02": PASS, "MLW-KV-03": FAIL, "MLW-KV-04": FAIL, "MLW-KV-05": FAIL},
    ),
    (
        "PSRule Resources.KeyVault.json: hardened vault; lower-case 'disabled' as the vault API's own default casing",
        record(
            KV,
            "kv-hardened",
            {
                "enableSoftDelete": True,
                "enablePurgeProtection": True,
                "enableRbacAuthorization": True,
                "publicNetworkAccess": "disabled",
            },
        ),
        {"MLW-KV-01": PASS, "MLW-KV-03": PASS, "MLW-KV-04": PASS, "MLW-KV-05": PASS},
    ),
    (
        "Checkov CKV_AZURE_109 / Policy 55615ac9: firewall Deny with listed IPs, public access on",
        record(
            KV,
            "kv-firewall",
            {
                "enablePurgeProtection": None,
                "networkAcls": {
                    "bypass": "AzureServices",
                    "defaultAction": "Deny",
                    "ipRules": [{"value": "203.0.113.0/24"}],
                },
            },
        ),
        {"MLW-KV-01": FAIL, "MLW-KV-02": PASS, "MLW-KV-04": FAIL, "MLW-KV-05": PASS},
    ),
    (
        "REST publicNetworkAccess SecuredByPerimeter on a vault",
        record(KV, "kv-perimeter", {"publicNetworkAccess": "SecuredByPerimeter"}),
        {"MLW-KV-04": FAIL, "MLW-KV-05": PASS},
    ),
    (
        "PSRule Resources.KeyVault.json keyvault-B: soft delete off, no purge protection, capitalised 'Purge'",
        record(
            KV,
            "kv-psrule-b",
            {
                "accessPolicies": [{"objectId": "o1", "permissions": {"keys": ["All"], "secrets": ["Get", "Purge"]}}],
                "enableSoftDelete": False,
            },
        ),
        {"MLW-KV-01": FAIL, "MLW-KV-02": FAIL, "MLW-KV-03": FAIL},
    ),
    (
        "Policy 1e66c121 vs Checkov CKV_AZURE_111: explicit enableSoftDelete false fails both",
        record(KV, "kv-nosoftdelete", {"enableSoftDelete": False}),
        {"MLW-KV-02": FAIL},
    ),
]

REGISTRY: list[Case] = [
    (
        "REST 2023-07-01 registries GET: Basic SKU, defaults",
        record(
            ACR,
            "acrbasic",
            {
                "loginServer": "acrbasic.azurecr.io",
                "adminUserEnabled": False,
                "policies": {
                    "quarantinePolicy": {"status": "disabled"},
                    "trustPolicy": {"type": "Notary", "status": "disabled"},
                    "retentionPolicy": {"days": 7, "status": "disabled"},
                    "exportPolicy": {"status": "enabled"},
                    "azureADAuthenticationAsArmPolicy": {"status": "enabled"},
                },
                "encryption": {"status": "disabled"},
                "publicNetworkAccess": "Enabled",
                "anonymousPullEnabled": False,
            },
            sku={"name": "Basic", "tier": "Basic"},
        ),
        # Policies dc921057, 9f2dea28 pass; 0fdf0491, d0793b48, 5b9159ae, 524b0254, 42781ec6 fail.
        {
            "MLW-ACR-01": PASS,
            "MLW-ACR-02": PASS,
            "MLW-ACR-03": FAIL,
            "MLW-ACR-04": FAIL,
            "MLW-ACR-06": FAIL,
            "MLW-ACR-07": FAIL,
            "MLW-ACR-08": FAIL,
        },
    ),
    (
        "PSRule Resources.ACR.json: Premium, admin user on, network rules deny, CMK",
        record(
            ACR,
            "acrpremium",
            {
                "adminUserEnabled": True,
                "publicNetworkAccess": "Enabled",
                "networkRuleSet": {"defaultAction": "Deny", "ipRules": [{"action": "Allow", "value": "203.0.113.7"}]},
                "encryption": {
                    "status": "enabled",
                    "keyVaultProperties": {"keyIdentifier": "https://kv.vault.azure.net/keys/k/1", "identity": "c1"},
                },
                "policies": {
                    "exportPolicy": {"status": "disabled"},
                    "azureADAuthenticationAsArmPolicy": {"status": "disabled"},
                },
            },
            sku={"name": "Premium", "tier": "Premium"},
        ),
        # Policy 524b0254 needs exports and public access disabled together.
        {
            "MLW-ACR-01": FAIL,
            "MLW-ACR-03": FAIL,
            "MLW-ACR-04": PASS,
            "MLW-ACR-06": PASS,
            "MLW-ACR-07": FAIL,
            "MLW-ACR-08": PASS,
        },
    ),
    (
        "Policy 524b0254: exports Disabled (policy casing) and public access Disabled",
        record(
            ACR,
            "acrsealed",
            {"publicNetworkAccess": "Disabled", "policies": {"exportPolicy": {"status": "Disabled"}}},
            sku={"name": "Premium"},
        ),
        {"MLW-ACR-03": PASS, "MLW-ACR-04": PASS, "MLW-ACR-07": PASS},
    ),
    (
        "Policy 42781ec6: no azureADAuthenticationAsArmPolicy means ARM-audience tokens are accepted",
        record(ACR, "acrnopolicies", {}, sku={"name": "Standard"}),
        {"MLW-ACR-01": PASS, "MLW-ACR-02": PASS, "MLW-ACR-03": FAIL, "MLW-ACR-08": FAIL},
    ),
]

_POOL = {"name": "system", "count": 3, "vmSize": "Standard_D4s_v5", "mode": "System", "osType": "Linux"}

CLUSTERS: list[Case] = [
    (
        "REST 2024-09-01 managedClusters GET: public API server, local accounts, kubenet defaults",
        record(
            AKS,
            "aks-default",
            {
                "kubernetesVersion": "1.30.3",
                "dnsPrefix": "aks-default",
                "agentPoolProfiles": [_POOL],
                "enableRBAC": True,
                "networkProfile": {"networkPlugin": "kubenet"},
                "addonProfiles": {},
            },
            identity={"type": "SystemAssigned"},
        ),
        {
            "MLW-AKS-01": FAIL,
            "MLW-AKS-02": FAIL,
            "MLW-AKS-03": FAIL,
            "MLW-AKS-04": FAIL,
            "MLW-AKS-06": PASS,
            "MLW-AKS-07": PASS,
            "MLW-AKS-13": FAIL,
            "MLW-AKS-14": PASS,
            "MLW-AKS-15": FAIL,
        },
    ),
    (
        "PSRule Resources.AKS.json: authorized IP ranges as an empty array are none (GreaterOrEqual 1)",
        record(
            AKS, "aks-emptyranges", {"apiServerAccessProfile": {"authorizedIPRanges": []}, "agentPoolProfiles": [_POOL]}
        ),
        {"MLW-AKS-01": FAIL, "MLW-AKS-02": FAIL},
    ),
    (
        "Policy 040732e8 / 0e246bcf: a private cluster needs no authorized ranges",
        record(
            AKS,
            "aks-private",
            {
                "apiServerAccessProfile": {"enablePrivateCluster": True, "privateDNSZone": "system"},
                "disableLocalAccounts": True,
                "aadProfile": {"managed": True, "enableAzureRBAC": True, "tenantID": "t"},
                "agentPoolProfiles": [{**_POOL, "enableEncryptionAtHost": True, "enableNodePublicIP": False}],
                "networkProfile": {"networkPlugin": "azure", "networkPolicy": "cilium", "networkDataplane": "cilium"},
                "addonProfiles": {
                    "azureKeyvaultSecretsProvider": {"enabled": True, "config": {"enableSecretRotation": "true"}},
                    "azurepolicy": {"enabled": True},
                },
                "securityProfile": {
                    "defender": {"securityMonitoring": {"enabled": True}},
                    "workloadIdentity": {"enabled": True},
                },
                "oidcIssuerProfile": {"enabled": True},
            },
            identity={"type": "UserAssigned", "userAssignedIdentities": {"/x/id1": {}}},
        ),
        {
            "MLW-AKS-01": PASS,
            "MLW-AKS-02": NA,
            "MLW-AKS-03": PASS,
            "MLW-AKS-04": PASS,
            "MLW-AKS-05": PASS,
            "MLW-AKS-08": PASS,
            "MLW-AKS-09": PASS,
            "MLW-AKS-10": PASS,
            "MLW-AKS-13": PASS,
            "MLW-AKS-15": PASS,
            "MLW-AKS-16": PASS,
            "MLW-AKS-17": PASS,
        },
    ),
    (
        "Policy da6e2401: servicePrincipalProfile clientId 'msi' is a managed identity; CSI config 'false'",
        record(
            AKS,
            "aks-msi",
            {
                "servicePrincipalProfile": {"clientId": "msi"},
                "apiServerAccessProfile": {"authorizedIPRanges": ["203.0.113.0/24"]},
                "agentPoolProfiles": [_POOL, {**_POOL, "name": "gpu", "enableNodePublicIP": True}],
                "addonProfiles": {
                    "azureKeyvaultSecretsProvider": {"enabled": True, "config": {"enableSecretRotation": "false"}}
                },
                "networkProfile": {"networkPolicy": "none"},
                "enableRBAC": False,
            },
        ),
        {
            "MLW-AKS-02": PASS,
            "MLW-AKS-06": FAIL,
            "MLW-AKS-07": PASS,
            "MLW-AKS-10": FAIL,
            "MLW-AKS-14": FAIL,
            "MLW-AKS-15": FAIL,
        },
    ),
]

CLUSTERS += [
    (
        "Policy 5c345cdf allows rapid/stable/patch only: 'node-image' never upgrades Kubernetes "
        "(04408ca5 counts it for the node OS)",
        record(
            AKS, "aks-nodeimage", {"autoUpgradeProfile": {"upgradeChannel": "node-image"}, "agentPoolProfiles": [_POOL]}
        ),
        {"MLW-AKS-21": FAIL},
    ),
    (
        "Policies 5c345cdf / 04408ca5: stable cluster channel, SecurityPatch node OS channel",
        record(
            AKS,
            "aks-upgrades",
            {
                "autoUpgradeProfile": {"upgradeChannel": "stable", "nodeOSUpgradeChannel": "SecurityPatch"},
                "agentPoolProfiles": [{**_POOL, "securityProfile": {"sshAccess": "Disabled"}}],
                "apiServerAccessProfile": {"disableRunCommand": True, "enablePrivateCluster": False},
            },
        ),
        # Policy 28257686 fails a pool without sshAccess or with 'localuser'; 89f2d532 wants disableRunCommand.
        {"MLW-AKS-01": FAIL, "MLW-AKS-19": PASS, "MLW-AKS-20": PASS, "MLW-AKS-21": PASS},
    ),
]

CLUSTERS.append(
    (
        "Policy a1840de2 reads the older preview path securityProfile.azureDefender.enabled",
        record(
            AKS,
            "aks-olddefender",
            {"securityProfile": {"azureDefender": {"enabled": True}}, "agentPoolProfiles": [_POOL]},
        ),
        {"MLW-AKS-16": PASS},
    )
)

CLUSTERS.append(
    (
        "Checkov CKV_AZURE_6: API 2019-06-01 (preview) lists ranges at properties.apiServerAuthorizedIPRanges",
        record(
            AKS,
            "aks-preview-ranges",
            {"apiServerAuthorizedIPRanges": ["198.51.100.0/24"], "agentPoolProfiles": [_POOL]},
        ),
        {"MLW-AKS-02": PASS},
    )
)

WORKSPACES: list[Case] = [
    (
        "PSRule Resources.ML.json ml-wks-a: user-assigned primary identity, public access off",
        record(
            WS,
            "mlw-a",
            {
                "allowPublicAccessWhenBehindVnet": False,
                "primaryUserAssignedIdentity": "/x/uai",
                "publicNetworkAccess": "Disabled",
            },
            kind="Default",
            identity={"type": "UserAssigned", "userAssignedIdentities": {"/x/uai": {}}},
        ),
        {"MLW-MLWS-01": PASS, "MLW-MLWS-04": PASS, "MLW-MLWS-05": PASS},
    ),
    (
        "PSRule Resources.ML.json ml-wks-b: public access on, system-assigned only",
        record(WS, "mlw-b", {"publicNetworkAccess": "Enabled"}, kind="Default", identity={"type": "SystemAssigned"}),
        {"MLW-MLWS-01": FAIL, "MLW-MLWS-04": PASS, "MLW-MLWS-05": FAIL},
    ),
    (
        "PSRule Resources.ML.json ml-wks-c: Disabled but allowPublicAccessWhenBehindVnet true",
        record(
            WS, "mlw-c", {"allowPublicAccessWhenBehindVnet": True, "publicNetworkAccess": "Disabled"}, kind="Default"
        ),
        {"MLW-MLWS-01": FAIL},
    ),
    (
        "REST 2024-10-01 Workspace/get.json: CMK, approved private endpoint, 'SystemAssigned,UserAssigned'",
        record(
            WS,
            "mlw-rest",
            {
                "encryption": {
                    "status": "Enabled",
                    "keyVaultProperties": {
                        "keyVaultArmId": "/x/kv",
                        "keyIdentifier": "https://kv.vault.azure.net/keys/k/1",
                    },
                },
                "allowPublicAccessWhenBehindVnet": False,
                "publicNetworkAccess": "Disabled",
                "privateLinkCount": 0,
                "privateEndpointConnections": [
                    {
                        "id": "/x/pec",
                        "name": "pec",
                        "properties": {
                            "privateEndpoint": {"id": f"/subscriptions/s/resourceGroups/r/providers/{_PE}/pe1"},
                            "privateLinkServiceConnectionState": {"status": "Approved", "actionsRequired": "None"},
                        },
                    }
                ],
            },
            identity={"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {"/x/uai": {}}},
        ),
        {"MLW-MLWS-01": PASS, "MLW-MLWS-02": PASS, "MLW-MLWS-03": PASS, "MLW-MLWS-04": PASS, "MLW-MLWS-05": FAIL},
    ),
    (
        "Policy 438c38d2 (absent fails) and 6ddb1705: managed network isolation mode",
        record(WS, "mlw-managed", {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}, kind="Hub"),
        {"MLW-MLWS-01": FAIL, "MLW-MLWS-06": PASS},
    ),
    (
        "Policy 7f40cee6 existence condition: encryption.status Enabled is the whole test (no key named)",
        record(WS, "mlw-cmk-status", {"encryption": {"status": "Enabled"}}, kind="Default"),
        {"MLW-MLWS-03": PASS},
    ),
    (
        "Policy 7f40cee6 / ba769a63: encryption.status Disabled is non-compliant",
        record(WS, "mlw-cmk-off", {"encryption": {"status": "Disabled"}}, kind="Default"),
        {"MLW-MLWS-03": FAIL},
    ),
]
REGISTRY_CMK: list[Case] = [
    (
        "Policy 5b9159ae: encryption.status 'enabled' (the API's lower case) is compliant without more",
        record(ACR, "acrcmkstatus", {"encryption": {"status": "enabled"}}, sku={"name": "Premium"}),
        {"MLW-ACR-06": PASS},
    ),
    (
        "Policy 5b9159ae: encryption.status 'disabled' is non-compliant",
        record(ACR, "acrcmkoff", {"encryption": {"status": "disabled"}}, sku={"name": "Premium"}),
        {"MLW-ACR-06": FAIL},
    ),
]

_COMPUTE = f"{WS}/computes"

COMPUTES: list[Case] = [
    (
        "REST 2024-10-01 Compute/get/ComputeInstance.json: SSH public, outdated image, no disableLocalAuth",
        record(
            _COMPUTE,
            "mlw-b/ci-rest",
            {
                "computeType": "ComputeInstance",
                "provisioningState": "Succeeded",
                "properties": {
                    "vmSize": "STANDARD_NC6",
                    "subnet": {"id": "/x/subnets/s1"},
                    "sshSettings": {"sshPublicAccess": "Enabled", "adminUserName": "azureuser", "sshPort": 22},
                    "osImageMetadata": {"currentImageVersion": "22.06.14", "isLatestOsImageVersion": False},
                    "connectivityEndpoints": {"publicIpAddress": "10.0.0.1", "privateIpAddress": "10.0.0.1"},
                },
            },
        ),
        # Policy e96a9a5f fails absent disableLocalAuth; 7804b5c7 passes a set subnet; f110a506 fails the image.
        {"MLW-MLCMP-01": FAIL, "MLW-MLCMP-02": PASS, "MLW-MLCMP-03": FAIL, "MLW-MLCMP-04": FAIL, "MLW-MLCMP-05": FAIL},
    ),
    (
        "REST 2024-10-01 Compute/get/AmlCompute.json: remote login Enabled, node public IPs",
        record(
            _COMPUTE,
            "mlw-b/cluster-rest",
            {
                "computeType": "AmlCompute",
                "properties": {
                    "vmSize": "STANDARD_NC6",
                    "subnet": {"id": "/x/subnets/s1"},
                    "remoteLoginPortPublicAccess": "Enabled",
                    "enableNodePublicIp": True,
                },
            },
        ),
        {"MLW-MLCMP-02": PASS, "MLW-MLCMP-03": FAIL, "MLW-MLCMP-04": FAIL, "MLW-MLCMP-05": NA},
    ),
    (
        "PSRule Resources.ML.json mlcomp-a: local auth disabled, in a subnet",
        record(
            _COMPUTE,
            "mlw-b/mlcomp-a",
            {
                "computeType": "ComputeInstance",
                "disableLocalAuth": True,
                "properties": {"vmSize": "STANDARD_D2_V2", "idleTimeBeforeShutdown": "PT15M", "subnet": {"id": "/x/s"}},
            },
        ),
        {"MLW-MLCMP-01": PASS, "MLW-MLCMP-02": PASS},
    ),
    (
        "PSRule Resources.ML.json mlcomp-b: nothing set, workspace without a managed network",
        record(
            _COMPUTE, "mlw-b/mlcomp-b", {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_D2_V2"}}
        ),
        {"MLW-MLCMP-01": FAIL, "MLW-MLCMP-02": FAIL},
    ),
    (
        "Policy 7804b5c7 flags a managed-network compute; MLW-MLCMP-02's rationale exempts it on purpose",
        record(_COMPUTE, "mlw-managed/ci-managed", {"computeType": "ComputeInstance", "properties": {"vmSize": "x"}}),
        {"MLW-MLCMP-02": NA},
    ),
]

_ENDPOINT = f"{WS}/onlineEndpoints"

ENDPOINTS: list[Case] = [
    (
        "REST 2024-10-01 OnlineEndpoint/createOrUpdate.json: AMLToken, no publicNetworkAccess",
        record(
            _ENDPOINT,
            "mlw-b/ep-rest",
            {"authMode": "AMLToken", "scoringUri": "https://ep.example/score", "traffic": {"blue": 100}},
            identity={"type": "SystemAssigned"},
        ),
        {"MLW-MLEP-01": FAIL, "MLW-MLEP-02": FAIL, "MLW-MLEP-03": PASS},
    ),
    (
        "REST enums in other casing: 'aadtoken', 'disabled'",
        record(_ENDPOINT, "mlw-b/ep-entra", {"authMode": "aadtoken", "publicNetworkAccess": "disabled"}),
        {"MLW-MLEP-01": PASS, "MLW-MLEP-02": PASS, "MLW-MLEP-03": FAIL},
    ),
]

ENDPOINTS.append(
    (
        "REST OnlineEndpoint `compute` (a Kubernetes endpoint): public_network_access is for managed endpoints only",
        record(
            _ENDPOINT,
            "mlw-b/ep-k8s",
            {"authMode": "Key", "compute": arm_id(_COMPUTE, "mlw-b/aks-attached"), "traffic": {"v1": 100}},
        ),
        {"MLW-MLEP-01": FAIL, "MLW-MLEP-02": NA},
    )
)
ENDPOINTS.append(
    (
        "CLI endpoint YAML reference: public_network_access 'is applicable only for managed endpoints' "
        "(azure-ai-ml's KubernetesOnlineEndpoint has no such field): Disabled on a Kubernetes endpoint closes nothing",
        record(
            _ENDPOINT,
            "mlw-b/ep-k8s-closed",
            {
                "authMode": "AADToken",
                "compute": arm_id(_COMPUTE, "mlw-b/aks-attached"),
                "publicNetworkAccess": "Disabled",
            },
        ),
        {"MLW-MLEP-01": PASS, "MLW-MLEP-02": NA},
    )
)

ACCOUNTS: list[Case] = [
    (
        "PSRule Resources.Cognitive.json / Policy 037eea7a: firewall Deny with public access on",
        record(
            AI,
            "oai-firewall",
            {
                "publicNetworkAccess": "Enabled",
                "networkAcls": {
                    "defaultAction": "Deny",
                    "ipRules": [{"value": "203.0.113.9"}],
                    "virtualNetworkRules": [],
                },
                "disableLocalAuth": True,
            },
            kind="OpenAI",
            identity={"type": "SystemAssigned"},
        ),
        {"MLW-AI-01": PASS, "MLW-AI-02": PASS, "MLW-AI-04": PASS, "MLW-AI-05": FAIL},
    ),
    (
        "Policy 71ef260a / 037eea7a: defaults (keys on, open), CMK by keySource Microsoft.KeyVault",
        record(
            AI,
            "ais-open",
            {"encryption": {"keySource": "Microsoft.KeyVault", "keyVaultProperties": {"keyName": "k"}}},
            kind="AIServices",
            identity={"type": "None"},
        ),
        {"MLW-AI-01": FAIL, "MLW-AI-02": FAIL, "MLW-AI-04": FAIL, "MLW-AI-05": PASS},
    ),
    (
        "REST publicNetworkAccess SecuredByPerimeter on an AI account",
        record(AI, "ais-perimeter", {"publicNetworkAccess": "SecuredByPerimeter"}, kind="AIServices"),
        {"MLW-AI-02": PASS},
    ),
]

_CAPABLE = [{"name": "VirtualNetworks"}, {"name": "CustomerManagedKey"}, {"name": "MaxFineTuneCount", "value": "100"}]
ACCOUNTS += [
    (
        "Policies 037eea7a / 67121cc7 judge accounts whose capabilities include VirtualNetworks / CustomerManagedKey",
        record(AI, "oai-capable", {"capabilities": _CAPABLE}, kind="OpenAI"),
        {"MLW-AI-02": FAIL, "MLW-AI-03": FAIL, "MLW-AI-05": FAIL},
    ),
    (
        "Policies 037eea7a / 67121cc7 skip a kind whose listed capabilities lack both",
        record(AI, "cs-basic", {"capabilities": [{"name": "CommitmentPlan"}]}, kind="Bing.Search.v7"),
        # Policy cddd188c (private link) skips them too; MLW-AI-03 says why d6759c02 is not followed.
        {"MLW-AI-02": NA, "MLW-AI-03": NA, "MLW-AI-05": NA},
    ),
    (
        "PSRule Azure.AI.PublicAccess: publicNetworkAccess Disabled passes whatever the capabilities",
        record(AI, "cs-closed", {"publicNetworkAccess": "Disabled", "capabilities": [{"name": "CommitmentPlan"}]}),
        {"MLW-AI-02": PASS},
    ),
]


def _config(site: str, **settings: Any) -> dict[str, Any]:
    """The site's config/web record (REST WebApps_GetConfiguration shape)."""
    return record(f"{WEB}/config", f"{site}/web", settings)


APPS: list[Case] = [
    (
        "REST 2023-12-01 WebApps_Get: HTTPS only off, empty publicNetworkAccess, identity set",
        record(
            WEB,
            "app-rest",
            {"httpsOnly": False, "publicNetworkAccess": "", "clientCertEnabled": False, "state": "Running"},
            kind="app,linux",
            identity={"type": "SystemAssigned, UserAssigned"},
        ),
        {"MLW-APP-01": FAIL, "MLW-APP-02": FAIL, "MLW-APP-04": PASS, "MLW-APP-07": FAIL},
    ),
    (
        "Policy 19dd1db6 passes HTTP/2 apps; MLW-APP-07's rationale judges client certificates on every app",
        record(
            WEB, "app-mtls", {"httpsOnly": True, "clientCertEnabled": True, "clientCertMode": "Required"}, kind="app"
        ),
        {"MLW-APP-01": PASS, "MLW-APP-07": PASS},
    ),
]

APP_CONFIGS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    (
        "REST WebApps_GetConfiguration: TLS 1.2, FTPS only, no remote debugging",
        {"minTlsVersion": "1.2", "ftpsState": "FtpsOnly", "remoteDebuggingEnabled": False, "http20Enabled": True},
        {"MLW-CFG-01": PASS, "MLW-CFG-02": PASS, "MLW-CFG-03": PASS},
    ),
    (
        "PSRule Resources.AppService.json: TLS 1.0, all FTP allowed, remote debugging on",
        {"minTlsVersion": "1.0", "ftpsState": "AllAllowed", "remoteDebuggingEnabled": True},
        {"MLW-CFG-01": FAIL, "MLW-CFG-02": FAIL, "MLW-CFG-03": FAIL},
    ),
    (
        "appserviceresources PascalCase names, enums in other casing: 'ftpsonly', SCM TLS '1.3'",
        {"MinTlsVersion": "1.3", "FtpsState": "ftpsonly", "ScmMinTlsVersion": "1.3"},
        {"MLW-CFG-01": PASS, "MLW-CFG-02": PASS, "MLW-CFG-50": PASS},
    ),
    (
        "Storage's 'TLS1_2' naming on a site: ARM rejects it and Policy f0e6e85b (equals '1.2'), Checkov "
        "CKV_AZURE_15 and PSRule Azure.AppService.MinTLS (version >= 1.2) all fail it",
        {"minTlsVersion": "TLS1_2", "ftpsState": "Disabled"},
        {"MLW-CFG-01": FAIL, "MLW-CFG-02": PASS},
    ),
    (
        "Policy f0e6e85b fails an absent minTlsVersion; MLW-CFG-01's rationale passes the service default 1.2",
        {"ftpsState": None, "remoteDebuggingEnabled": None},
        {"MLW-CFG-01": PASS, "MLW-CFG-02": FAIL, "MLW-CFG-03": PASS},
    ),
]


def extension(target: dict[str, Any], provider_type: str, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """An extension resource (diagnostic setting) on `target`, as ARM lists it."""
    return {
        "id": f"{target['id']}/providers/{provider_type}/{name}",
        "name": name,
        "type": provider_type,
        "properties": properties,
    }


_DIAG = "Microsoft.Insights/diagnosticSettings"
_LAW = {"workspaceId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.OperationalInsights/workspaces/law"}
_KV_AUDITED = record(KV, "kv-audited", {"enableRbacAuthorization": True})
_KV_UNAUDITED = record(KV, "kv-unaudited", {})
_WS_LOGGED = record(WS, "mlw-logged", {"publicNetworkAccess": "Disabled"}, kind="Default")
_WS_NO_DESTINATION = record(WS, "mlw-nodest", {}, kind="Default")
_KV_SHORT_RETENTION = record(KV, "kv-retain30", {"enableRbacAuthorization": True})
_ARCHIVE = {
    "storageAccountId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/starchive"
}

DIAGNOSTICS: list[tuple[str, list[dict[str, Any]], str, dict[str, str]]] = [
    (
        "Policy cf820ca0 fails a storage destination retained under 365 days; MLW-KV-10's rationale does not "
        "judge retention (diagnostic settings no longer apply it)",
        [
            _KV_SHORT_RETENTION,
            extension(
                _KV_SHORT_RETENTION,
                _DIAG,
                "archive",
                {
                    **_ARCHIVE,
                    "logs": [
                        {"category": "AuditEvent", "enabled": True, "retentionPolicy": {"enabled": True, "days": 30}}
                    ],
                },
            ),
        ],
        "kv-retain30",
        {"MLW-KV-10": PASS},
    ),
    (
        "Policy cf820ca0 / PSRule Azure.KeyVault.Logs: the audit category group, enabled, to Log Analytics",
        [
            _KV_AUDITED,
            extension(_KV_AUDITED, _DIAG, "audit", {**_LAW, "logs": [{"categoryGroup": "audit", "enabled": True}]}),
        ],
        "kv-audited",
        {"MLW-KV-10": PASS},
    ),
    (
        "Policy cf820ca0: an AuditEvent category that is switched off does not count",
        [
            _KV_UNAUDITED,
            extension(
                _KV_UNAUDITED,
                _DIAG,
                "metrics-only",
                {
                    **_LAW,
                    "logs": [{"category": "AuditEvent", "enabled": False}],
                    "metrics": [{"category": "AllMetrics", "enabled": True}],
                },
            ),
        ],
        "kv-unaudited",
        {"MLW-KV-10": FAIL},
    ),
    (
        "Policy afe0c3be: ML workspace logs with the allLogs group",
        [
            _WS_LOGGED,
            extension(_WS_LOGGED, _DIAG, "all", {**_LAW, "logs": [{"categoryGroup": "allLogs", "enabled": True}]}),
        ],
        "mlw-logged",
        {"MLW-MLWS-08": PASS},
    ),
    (
        "Policy afe0c3be: a setting without a destination keeps nothing",
        [
            _WS_NO_DESTINATION,
            extension(_WS_NO_DESTINATION, _DIAG, "nowhere", {"logs": [{"categoryGroup": "allLogs", "enabled": True}]}),
        ],
        "mlw-nodest",
        {"MLW-MLWS-08": FAIL},
    ),
]

_FUNC = record(WEB, "func-linux", {"httpsOnly": True, "publicNetworkAccess": "Disabled"}, kind="functionapp,linux")
_LOGIC = record(WEB, "logic-std", {"httpsOnly": False}, kind="functionapp,workflowapp")
_SLOT = record(f"{WEB}/slots", "app-cfg-0/staging", {"httpsOnly": False, "clientCertEnabled": False}, kind="app")
_PUBLISHING = f"{WEB}/basicPublishingCredentialsPolicies"

HOSTING: list[tuple[str, list[dict[str, Any]], str, dict[str, str]]] = [
    (
        "Policy f9d614c5 / 399b2637 (function-app variants): TLS 1.1 and all FTP fail on a Linux function app",
        [_FUNC, _config("func-linux", minTlsVersion="1.1", ftpsState="AllAllowed", remoteDebuggingEnabled=False)],
        "func-linux",
        {"MLW-APP-01": PASS, "MLW-APP-02": PASS, "MLW-CFG-01": FAIL, "MLW-CFG-02": FAIL, "MLW-CFG-03": PASS},
    ),
    (
        "PSRule Resources.AppService.json site-A/staging: a slot is judged on its own row and config",
        [
            _SLOT,
            record(f"{WEB}/slots/config", "app-cfg-0/staging/web", {"minTlsVersion": "1.0", "ftpsState": "FtpsOnly"}),
        ],
        "staging",
        {"MLW-APP-01": FAIL, "MLW-CFG-01": FAIL, "MLW-CFG-02": PASS},
    ),
    (
        "Policies 871b205b / aede300b: FTP basic auth off but SCM on",
        [
            record(_PUBLISHING, "app-cfg-1/ftp", {"allow": False}),
            record(_PUBLISHING, "app-cfg-1/scm", {"allow": True}),
        ],
        "app-cfg-1",
        {"MLW-APP-05": FAIL},
    ),
    (
        "Policies 871b205b / aede300b: both basic-auth publishing policies off",
        [
            record(_PUBLISHING, "app-cfg-2/ftp", {"allow": False}),
            record(_PUBLISHING, "app-cfg-2/scm", {"allow": False}),
        ],
        "app-cfg-2",
        {"MLW-APP-05": PASS},
    ),
    (
        "Policy 19dd1db6 counts an HTTP/2 app (config/web http20Enabled) as compliant; MLW-APP-07's rationale "
        "says why mlwarden still fails it without required client certificates",
        [],
        "app-cfg-0",
        {"MLW-APP-07": FAIL},
    ),
    (
        "Checkov CKV_AZURE_222 also reads publicNetworkAccess in config/web (SiteConfig: 'Enabled', "
        "'Disabled' or an empty string)",
        [
            record(WEB, "app-siteconfig-closed", {"httpsOnly": True}, kind="app"),
            _config("app-siteconfig-closed", publicNetworkAccess="Disabled", minTlsVersion="1.2"),
        ],
        "app-siteconfig-closed",
        {"MLW-APP-02": PASS},
    ),
    (
        "PSRule's function-app selector and the Policy definitions exclude Logic Apps Standard "
        "(kind functionapp,workflowapp): no app check judges it",
        [_LOGIC],
        "logic-std",
        {},
    ),
    (
        "Policy bd560fc0: private link needs the Premium SKU",
        [record(ACR, "acrstandard", {"publicNetworkAccess": "Enabled"}, sku={"name": "Standard", "tier": "Standard"})],
        "acrstandard",
        {"MLW-ACR-05": FAIL, "MLW-ACR-07": FAIL},
    ),
]


def subscription_record(provider_type: str, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A subscription-level record (Defender pricing, security contact), as securityresources lists it."""
    return {
        "id": f"/subscriptions/{SUB}/providers/{provider_type}/{name}",
        "name": name,
        "type": provider_type,
        "properties": properties,
    }


_PRICING = "Microsoft.Security/pricings"

DEFENDER: list[dict[str, Any]] = [
    subscription_record(_PRICING, "Containers", {"pricingTier": "Standard", "extensions": []}),
    subscription_record(_PRICING, "AppServices", {"pricingTier": "Free", "freeTrialRemainingTime": "P30D"}),
    subscription_record(_PRICING, "KeyVaults", {"pricingTier": "standard", "subPlan": "PerKeyVault"}),
    subscription_record(_PRICING, "StorageAccounts", {"pricingTier": "Standard", "subPlan": "DefenderForStorageV2"}),
    subscription_record(_PRICING, "CloudPosture", {"pricingTier": "Free"}),
    subscription_record(
        "Microsoft.Security/securityContacts",
        "default",
        {
            "emails": "secops@example.com;oncall@example.com",
            "isEnabled": True,
            "notificationsByRole": {"state": "On", "roles": ["Owner"]},
            "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "Medium"}],
        },
    ),
]
DEFENDER_EXPECTED = {
    # PSRule Azure.Defender.* and the Policy AuditIfNotExists definitions read pricingTier == Standard.
    "MLW-DEF-01": PASS,
    "MLW-DEF-02": FAIL,
    "MLW-DEF-03": PASS,
    "MLW-DEF-04": PASS,
    "MLW-DEF-05": "unknown",
    "MLW-DEF-06": FAIL,
    "MLW-DEF-07": PASS,
}


def _apps_with_configs() -> tuple[list[dict[str, Any]], list[tuple[str, str, str, str]]]:
    bodies: list[dict[str, Any]] = []
    expected: list[tuple[str, str, str, str]] = []
    for index, (source, settings, checks) in enumerate(APP_CONFIGS):
        name = f"app-cfg-{index}"
        bodies.append(record(WEB, name, {"httpsOnly": True}, kind="app"))
        bodies.append(_config(name, **settings))
        expected += [(source, name, check_id, want) for check_id, want in checks.items()]
    return bodies, expected


FAMILIES = {
    "storage": STORAGE,
    "keyvault": KEYVAULT,
    "acr": REGISTRY + REGISTRY_CMK,
    "aks": CLUSTERS,
    "ml": WORKSPACES + COMPUTES + ENDPOINTS,
    "cognitive": ACCOUNTS,
    "appservice": APPS,
}


def _expectations() -> list[tuple[str, str, str, str, str]]:
    rows = [
        (family, source, body["name"], check_id, want)
        for family, cases in FAMILIES.items()
        for source, body, checks in cases
        for check_id, want in checks.items()
    ]
    rows += [("appservice", source, name, check_id, want) for source, name, check_id, want in _apps_with_configs()[1]]
    rows += [
        (family, source, name, check_id, want)
        for family, groups in (("diagnostics", DIAGNOSTICS), ("hosting", HOSTING))
        for source, _, name, checks in groups
        for check_id, want in checks.items()
    ]
    return rows


def _all_bodies() -> list[dict[str, Any]]:
    bodies = [body for cases in FAMILIES.values() for _, body, _ in cases] + _apps_with_configs()[0]
    return bodies + [body for group in (DIAGNOSTICS, HOSTING) for _, records, _, _ in group for body in records]


@pytest.fixture(scope="module")
def snapshot_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    """One snapshot holding every family's records, scanned once."""
    return scan_snapshot(tmp_path_factory.mktemp("refs"), *_all_bodies(), *DEFENDER)


@pytest.mark.parametrize(
    ("family", "source", "name", "check_id", "want"),
    _expectations(),
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else "",
)
def test_snapshot_verdicts_match_the_references(
    snapshot_findings: Found, family: str, source: str, name: str, check_id: str, want: str
) -> None:
    finding = snapshot_findings.get((check_id, name), [{}])[0]
    assert status(snapshot_findings, check_id, name) == want, (source, finding.get("message"), finding.get("evidence"))


API_VERSIONS = {
    ST.lower(): "2023-05-01",
    KV.lower(): "2023-07-01",
    ACR.lower(): "2023-07-01",
    AKS.lower(): "2024-09-01",
    WEB.lower(): "2023-12-01",
    f"{WEB}/config".lower(): "2023-12-01",
    f"{WEB}/slots".lower(): "2023-12-01",
    f"{WEB}/slots/config".lower(): "2023-12-01",
    _PUBLISHING.lower(): "2023-12-01",
    _DIAG.lower(): "2021-05-01-preview",
    WS.lower(): "2024-10-01",
    _COMPUTE.lower(): "2024-10-01",
    _ENDPOINT.lower(): "2024-10-01",
    AI.lower(): "2024-10-01",
}


@pytest.fixture(scope="module")
def template_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    """The same records declared in one ARM template (children by their full names)."""
    declared = [as_template(body, API_VERSIONS[body["type"].lower()]) for body in _all_bodies()]
    return scan_template(tmp_path_factory.mktemp("refs-template"), *declared)


@pytest.mark.parametrize(
    ("family", "source", "name", "check_id", "want"),
    _expectations(),
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else "",
)
def test_template_verdicts_match_the_references(
    template_findings: Found, family: str, source: str, name: str, check_id: str, want: str
) -> None:
    finding = template_findings.get((check_id, name), [{}])[0]
    assert status(template_findings, check_id, name) == want, (source, finding.get("message"), finding.get("evidence"))


def test_perimeter_and_blank_values_are_explained(snapshot_findings: Found) -> None:
    """A verdict on SecuredByPerimeter names the perimeter, and an empty publicNetworkAccess reads as
    unset (the default, Enabled), not as a value called ''."""
    for check_id, name in (
        ("MLW-ST-04", "st-perimeter"),
        ("MLW-ST-05", "st-perimeter"),
        ("MLW-AI-02", "ais-perimeter"),
    ):
        (finding,) = snapshot_findings[(check_id, name)]
        assert "SecuredByPerimeter" in finding["message"] and "perimeter" in finding["message"].split(":", 1)[1]
    (blank,) = snapshot_findings[("MLW-APP-02", "app-rest")]
    assert blank["status"] == FAIL and "absent means Enabled" in blank["message"]


@pytest.mark.parametrize(("check_id", "want"), sorted(DEFENDER_EXPECTED.items()))
def test_defender_plans_and_contacts_match_the_references(snapshot_findings: Found, check_id: str, want: str) -> None:
    """REST 2024-01-01 pricings and 2023-12-01-preview securityContacts shapes (securityresources rows);
    a plan with no pricing row (AI here) is unknown, never a pass."""
    assert status(snapshot_findings, check_id, SUB) == want


def test_logic_apps_standard_are_not_judged_as_apps(snapshot_findings: Found, template_findings: Found) -> None:
    for found in (snapshot_findings, template_findings):
        judged = sorted(check_id for check_id, name in found if name == "logic-std")
        assert judged == [], judged
