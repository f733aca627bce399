"""AKS cluster checks (MLW-AKS-*): API server exposure, identity, secrets, encryption, node pools.

Kubernetes online endpoints of Azure ML run on these clusters, so a cluster's posture is part of
every such deployment's posture. Everything here reads the `managedClusters` Resource Graph row.
`addonProfiles` keys differ in case between templates and live ARM; `scanner.props` matches
them case-insensitively. Node-pool rules judge every `agentPoolProfiles[*]` and name the pools
that fail; a setting AKS does not offer on Windows Server pools is not judged there (MLW-AKS-19).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scanner import kinds, props
from scanner.estate import Estate
from scanner.models import Evidence, Resource
from scanner.registry import Verdict, check, failed, not_applicable, passed, unknown

_AKS = (kinds.AKS,)
_DOCS = "https://learn.microsoft.com/azure/aks"
_POOLS = "properties.agentPoolProfiles"
_SSH = "securityProfile.sshAccess"


def _pools(resource: Resource) -> list[tuple[str, Any]]:
    """(name, profile) for every node pool in the row; unnamed pools are named by position."""
    return [(props.text(pool, "name") or f"#{index}", pool) for index, pool in enumerate(props.items(resource, _POOLS))]


def _pool_evidence(name: str, pool: Any, field: str) -> Evidence:
    (seen,) = props.read(pool, field)
    return Evidence(path=f"{_POOLS}[{name}].{field}", value=seen.value)


def _judge_pools(resource: Resource, field: str, ok: Callable[[Any], bool], bad: str, good: str) -> Verdict:
    """Fail naming every pool where `ok(pool)` is false; no pools in the row is a coverage gap."""
    pools = _pools(resource)
    if not pools:
        return unknown("the cluster row lists no node pools (agentPoolProfiles is empty or absent)")
    evidence = [_pool_evidence(name, pool, field) for name, pool in pools]
    failing = [name for name, pool in pools if not ok(pool)]
    if failing:
        return failed(f"{bad}: {', '.join(failing)}", *evidence)
    return passed(f"{good} ({len(pools)} pool{'s' if len(pools) != 1 else ''})", *evidence)


def _is_private(resource: Resource) -> bool:
    return props.flag(resource, "properties.apiServerAccessProfile.enablePrivateCluster") is True


@check(
    id="MLW-AKS-01",
    title="AKS API server is private",
    kinds=_AKS,
    severity="high",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A private cluster exposes the Kubernetes API server only on a private IP in the cluster's "
        "virtual network, so the control plane of the inference cluster is not reachable from the "
        "internet. enablePrivateCluster absent means a public API server (the service default) and fails."
    ),
    remediation="Create the cluster as a private cluster (it cannot be switched on in place for every setup).",
    az_cli="az aks create -g <rg> -n <name> --enable-private-cluster ...",
    azure_policy=("040732e8-d947-40b8-95d6-854c95024bf8",),
    references=(f"{_DOCS}/private-clusters",),
)
def aks_private_cluster(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.apiServerAccessProfile.enablePrivateCluster")
    if _is_private(resource):
        return passed("the API server is private", *evidence)
    return failed("the API server has a public endpoint (private cluster is not enabled)", *evidence)


_OPEN_RANGES = frozenset({"0.0.0.0/0", "0.0.0.0", "*", "::/0"})
_PREVIEW_RANGES = "properties.apiServerAuthorizedIPRanges"


@check(
    id="MLW-AKS-02",
    title="Public AKS API server is limited to authorized IP ranges",
    kinds=_AKS,
    severity="high",
    tags=("private-network", "access-control"),
    pillar="private-network",
    rationale=(
        "When the API server is public, authorized IP ranges limit who can reach it. A private cluster "
        "has no public API endpoint, so the rule is not applicable there (PSRule and Azure Policy exempt "
        "it too). An absent or empty range list means any address may connect and fails; a range of "
        "0.0.0.0/0 is the same as none and also fails. Templates at the 2019 preview API versions put "
        "the list at properties.apiServerAuthorizedIPRanges (as Checkov CKV_AZURE_6 reads it); it counts too."
    ),
    remediation="Set authorized IP ranges to the networks that administer the cluster, or make it private.",
    az_cli="az aks update -g <rg> -n <name> --api-server-authorized-ip-ranges <cidr>[,<cidr>]",
    azure_policy=("0e246bcf-5f6f-4f87-bc6f-775d4712c7ea",),
    references=(f"{_DOCS}/api-server-authorized-ip-ranges",),
)
def aks_authorized_ip_ranges(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(
        resource,
        "properties.apiServerAccessProfile.enablePrivateCluster",
        "properties.apiServerAccessProfile.authorizedIPRanges",
    )
    if _is_private(resource):
        return not_applicable("the API server is private; authorized IP ranges apply to public API servers", *evidence)
    listed = props.items(resource, "properties.apiServerAccessProfile.authorizedIPRanges")
    if not listed and props.get(resource, _PREVIEW_RANGES) is not None:  # the 2019 preview API's path
        evidence = (*evidence, *props.read(resource, _PREVIEW_RANGES))
        listed = props.items(resource, _PREVIEW_RANGES)
    ranges = [str(r).strip() for r in listed]
    if not ranges:
        return failed("the public API server accepts connections from any IP address", *evidence)
    if open_ranges := [r for r in ranges if r in _OPEN_RANGES]:
        return failed(f"authorized IP ranges include {', '.join(open_ranges)}, which admits every address", *evidence)
    return passed(f"the public API server is limited to {len(ranges)} authorized range(s)", *evidence)


@check(
    id="MLW-AKS-03",
    title="AKS local accounts are disabled",
    kinds=_AKS,
    severity="high",
    tags=("local-auth",),
    pillar="identity",
    rationale=(
        "Local accounts give a static cluster-admin kubeconfig that bypasses Entra ID and cannot be "
        "audited per user. disableLocalAccounts absent means local accounts are enabled (the service "
        "default) and fails."
    ),
    remediation="Disable local accounts (requires Entra ID integration).",
    az_cli="az aks update -g <rg> -n <name> --disable-local-accounts",
    azure_policy=("993c2fcd-2b29-49d2-9eb0-df2c3a730c32",),
    references=(f"{_DOCS}/manage-local-accounts-managed-azure-ad",),
)
def aks_local_accounts_disabled(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.disableLocalAccounts")
    if props.flag(resource, "properties.disableLocalAccounts") is True:
        return passed("local accounts are disabled", *evidence)
    return failed("local accounts (static admin kubeconfig) are enabled", *evidence)


_LEGACY_AAD = ("serverAppID", "clientAppID")
"""App registrations only the legacy (retired) Entra ID integration uses; their values are not shown."""


@check(
    id="MLW-AKS-04",
    title="AKS uses managed Entra ID integration",
    kinds=_AKS,
    severity="medium",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "Managed Entra ID integration makes users authenticate to the cluster with their Entra identity. "
        "No aadProfile means no Entra integration and fails. Only aadProfile.managed true passes, as PSRule "
        "Azure.AKS.ManagedAAD tests it: managed false, or server/client app registrations "
        "(serverAppID, clientAppID), is the legacy integration AKS retired, and an aadProfile that leaves "
        "managed out shows no managed integration (ARM returns managed true on every managed cluster). "
        "Divergence: Azure Policy 450d2877 only asks that aadProfile exists, so it passes both."
    ),
    remediation="Enable managed Entra ID integration.",
    az_cli="az aks update -g <rg> -n <name> --enable-aad --aad-admin-group-object-ids <group-id>",
    azure_policy=("450d2877-ebea-41e8-b00c-e286317d21bf",),
    references=(f"{_DOCS}/enable-authentication-microsoft-entra-id",),
)
def aks_managed_entra_id(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.aadProfile.managed")
    if not props.mapping(resource, "properties.aadProfile"):
        return failed("Entra ID integration is not configured (no aadProfile)", *evidence)
    if props.flag(resource, "properties.aadProfile.managed") is True:
        return passed("managed Entra ID integration is enabled", *evidence)
    legacy = [f for f in _LEGACY_AAD if props.text(resource, f"properties.aadProfile.{f}")]
    if legacy or props.flag(resource, "properties.aadProfile.managed") is False:
        evidence = (*evidence, *(props.evidence(f"properties.aadProfile.{f}", "(set)") for f in legacy))
        return failed(
            "only the retired legacy Entra ID integration is configured (aadProfile.managed is not true)", *evidence
        )
    return failed("aadProfile does not set managed true, so managed Entra ID integration is not shown", *evidence)


@check(
    id="MLW-AKS-05",
    title="AKS uses Azure RBAC for Kubernetes authorization",
    kinds=_AKS,
    severity="medium",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "Azure RBAC for Kubernetes authorization puts cluster permissions in Azure role assignments, "
        "reviewed with everything else. enableAzureRBAC absent (or no aadProfile) means Kubernetes-native "
        "role bindings only, the service default, and fails."
    ),
    remediation="Enable Azure RBAC for Kubernetes authorization.",
    az_cli="az aks update -g <rg> -n <name> --enable-azure-rbac",
    references=(f"{_DOCS}/manage-azure-rbac",),
)
def aks_azure_rbac(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.aadProfile.enableAzureRBAC")
    if props.flag(resource, "properties.aadProfile.enableAzureRBAC") is True:
        return passed("Azure RBAC authorizes Kubernetes access", *evidence)
    return failed("Azure RBAC for Kubernetes authorization is not enabled", *evidence)


@check(
    id="MLW-AKS-06",
    title="AKS has Kubernetes RBAC enabled",
    kinds=_AKS,
    severity="high",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "Without Kubernetes RBAC every authenticated user is effectively cluster admin. Only an explicit "
        "enableRBAC false fails: absent means the service default (RBAC on; ARM returns the field on "
        "every current cluster), as Azure Policy scores it. Divergence: Checkov (CKV_AZURE_5) and PSRule "
        "Azure.AKS.UseRBAC (equals true) fail a template that leaves enableRBAC out."
    ),
    remediation="Recreate the cluster with Kubernetes RBAC enabled (it cannot be turned on in place).",
    az_cli="az aks create -g <rg> -n <name> ... (RBAC is on unless --disable-rbac)",
    azure_policy=("ac4a19c2-fa67-49b4-8ae5-0b2e78c49457",),
    references=(f"{_DOCS}/concepts-identity",),
)
def aks_kubernetes_rbac(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.enableRBAC")
    if props.flag(resource, "properties.enableRBAC") is False:
        return failed("Kubernetes RBAC is disabled", *evidence)
    return passed("Kubernetes RBAC is enabled (absent means the service default, enabled)", *evidence)


@check(
    id="MLW-AKS-07",
    title="AKS uses a managed identity, not a service principal",
    kinds=_AKS,
    severity="medium",
    tags=("managed-identity",),
    pillar="identity",
    rationale=(
        "A cluster identity that is a service principal carries a client secret that must be stored and "
        "rotated by hand; a managed identity has none. identity.type is read as a set (it can be "
        "'SystemAssigned, UserAssigned'); servicePrincipalProfile.clientId 'msi' (Azure Policy's form) "
        "also counts. Neither present fails."
    ),
    remediation="Migrate the cluster to a managed identity.",
    az_cli="az aks update -g <rg> -n <name> --enable-managed-identity",
    azure_policy=("da6e2401-19da-4532-9141-fb8fbde08431",),
    references=(f"{_DOCS}/use-managed-identity",),
)
def aks_managed_identity(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "identity.type", "properties.servicePrincipalProfile.clientId")
    if props.has_managed_identity(resource) or props.equals(
        resource, "properties.servicePrincipalProfile.clientId", "msi"
    ):
        return passed("the cluster runs under a managed identity", *evidence)
    if props.text(resource, "properties.servicePrincipalProfile.clientId"):
        return failed("the cluster runs under a service principal with a client secret", *evidence)
    return failed("the cluster has no managed identity", *evidence)


@check(
    id="MLW-AKS-08",
    title="AKS has workload identity enabled",
    kinds=_AKS,
    severity="medium",
    tags=("managed-identity",),
    pillar="identity",
    rationale=(
        "Workload identity lets model-serving pods get Entra tokens through federation instead of "
        "mounting secrets. It needs the OIDC issuer. Absent means disabled (the service default) and fails."
    ),
    remediation="Enable the OIDC issuer and workload identity.",
    az_cli="az aks update -g <rg> -n <name> --enable-oidc-issuer --enable-workload-identity",
    azure_policy=("2cc2e023-0dac-4046-875b-178f683929d5",),
    references=(f"{_DOCS}/workload-identity-overview",),
)
def aks_workload_identity(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(
        resource, "properties.securityProfile.workloadIdentity.enabled", "properties.oidcIssuerProfile.enabled"
    )
    if props.flag(resource, "properties.securityProfile.workloadIdentity.enabled") is not True:
        return failed("workload identity is not enabled", *evidence)
    if props.flag(resource, "properties.oidcIssuerProfile.enabled") is False:
        return failed("workload identity is enabled but the OIDC issuer it needs is off", *evidence)
    return passed("workload identity is enabled", *evidence)


_CSI = "properties.addonProfiles.azureKeyvaultSecretsProvider"
_OLD_DEFENDER = "properties.securityProfile.azureDefender.enabled"


@check(
    id="MLW-AKS-09",
    title="AKS has the Key Vault secrets store CSI driver enabled",
    kinds=_AKS,
    severity="medium",
    tags=("secrets-in-vault",),
    pillar="secrets",
    rationale=(
        "The Key Vault provider for the secrets store CSI driver mounts secrets from Key Vault, so model "
        "credentials need not live in Kubernetes secrets or images. Absent means the add-on is off "
        "(the service default) and fails. The add-on key's casing varies; it is matched case-insensitively."
    ),
    remediation="Enable the azure-keyvault-secrets-provider add-on.",
    az_cli="az aks enable-addons -g <rg> -n <name> --addons azure-keyvault-secrets-provider",
    references=(f"{_DOCS}/csi-secrets-store-driver",),
)
def aks_key_vault_csi(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, f"{_CSI}.enabled")
    if props.flag(resource, f"{_CSI}.enabled") is True:
        return passed("the Key Vault secrets provider add-on is enabled", *evidence)
    return failed("the Key Vault secrets provider add-on is not enabled", *evidence)


@check(
    id="MLW-AKS-10",
    title="AKS Key Vault CSI driver rotates secrets",
    kinds=_AKS,
    severity="low",
    tags=("secrets-in-vault", "key-lifecycle"),
    pillar="secrets",
    rationale=(
        "With rotation on, the CSI driver re-reads Key Vault and rotated secrets reach pods without a "
        "redeploy. The setting is the string 'true' in the add-on config. Not applicable when the add-on "
        "is off (MLW-AKS-09 reports that); absent config means rotation off (the default) and fails."
    ),
    remediation="Enable secret rotation on the Key Vault secrets provider add-on.",
    az_cli="az aks addon update -g <rg> -n <name> -a azure-keyvault-secrets-provider --enable-secret-rotation",
    references=(f"{_DOCS}/csi-secrets-store-configuration-options",),
)
def aks_csi_secret_rotation(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, f"{_CSI}.enabled", f"{_CSI}.config.enableSecretRotation")
    if props.flag(resource, f"{_CSI}.enabled") is not True:
        return not_applicable("the Key Vault secrets provider add-on is not enabled", *evidence)
    if props.flag(resource, f"{_CSI}.config.enableSecretRotation") is True:
        return passed("the Key Vault secrets provider rotates secrets", *evidence)
    return failed("the Key Vault secrets provider does not rotate secrets", *evidence)


@check(
    id="MLW-AKS-11",
    title="AKS encrypts Kubernetes secrets in etcd with a Key Vault key (KMS)",
    kinds=_AKS,
    severity="medium",
    tags=("encryption-at-rest", "key-lifecycle"),
    pillar="encryption",
    rationale=(
        "KMS encryption wraps Kubernetes secrets in etcd with a customer-managed Key Vault key the "
        "owner can rotate or revoke. Absent means platform keys only (the service default) and fails. "
        "Azure Policy dbbdc317 skips clusters whose identity.type is SystemAssigned; mlwarden judges "
        "every cluster, since KMS works with either identity. "
        "A public key vault for KMS (keyVaultNetworkAccess Public) still passes; the message says so. "
        "Enabled with no keyId in the row passes, as Policy dbbdc317 (enabled only) does: the AKS API "
        "requires a valid key identifier whenever KMS is enabled, so such a cluster cannot exist without one."
    ),
    remediation="Enable KMS with a Key Vault key, preferably in a private key vault.",
    az_cli="az aks update -g <rg> -n <name> --enable-azure-keyvault-kms --azure-keyvault-kms-key-id <key-id>",
    azure_policy=("dbbdc317-9734-4dd8-9074-993b29c69008",),
    references=(f"{_DOCS}/use-kms-etcd-encryption",),
)
def aks_kms_etcd(resource: Resource, estate: Estate) -> Verdict:
    kms = "properties.securityProfile.azureKeyVaultKms"
    evidence = props.read(resource, f"{kms}.enabled", f"{kms}.keyId", f"{kms}.keyVaultNetworkAccess")
    if props.flag(resource, f"{kms}.enabled") is not True:
        return failed("Kubernetes secrets in etcd are not encrypted with a customer-managed key (KMS off)", *evidence)
    if not props.text(resource, f"{kms}.keyId"):
        return passed("KMS encrypts etcd secrets with a Key Vault key (the row names no key identifier)", *evidence)
    if props.equals(resource, f"{kms}.keyVaultNetworkAccess", "Private"):
        return passed("KMS encrypts etcd secrets with a key in a private key vault", *evidence)
    return passed("KMS encrypts etcd secrets with a Key Vault key (the KMS key vault is public)", *evidence)


@check(
    id="MLW-AKS-12",
    title="AKS node disks are encrypted with a customer-managed key",
    kinds=_AKS,
    severity="medium",
    tags=("encryption-at-rest",),
    pillar="encryption",
    rationale=(
        "A disk encryption set puts OS and data disks of the nodes (which cache models and request data) "
        "under a customer-managed key. Absent or empty means platform-managed keys (the default) and fails."
    ),
    remediation="Create the cluster with a disk encryption set.",
    az_cli="az aks create -g <rg> -n <name> --node-osdisk-diskencryptionset-id <des-id> ...",
    azure_policy=("7d7be79c-23ba-4033-84dd-45e2a5ccdd67",),
    references=(f"{_DOCS}/azure-disk-customer-managed-keys",),
)
def aks_disk_cmk(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.diskEncryptionSetID")
    if (props.text(resource, "properties.diskEncryptionSetID") or "").strip():
        return passed("node disks use a customer-managed key (disk encryption set)", *evidence)
    return failed("node disks use platform-managed keys (no disk encryption set)", *evidence)


@check(
    id="MLW-AKS-13",
    title="Every AKS node pool encrypts at host",
    kinds=_AKS,
    severity="medium",
    tags=("encryption-at-rest",),
    pillar="encryption",
    rationale=(
        "Encryption at host covers temp disks and the disk cache, which managed-disk encryption does not. "
        "Every pool is judged (Checkov looks at the first only); absent means off (the default) and fails."
    ),
    remediation="Add node pools with encryption at host and move workloads off the others.",
    az_cli="az aks nodepool add -g <rg> --cluster-name <name> -n <pool> --enable-encryption-at-host",
    azure_policy=("41425d9f-d1a5-499a-9932-f8ed8453932c",),
    references=(f"{_DOCS}/enable-host-encryption",),
)
def aks_encryption_at_host(resource: Resource, estate: Estate) -> Verdict:
    return _judge_pools(
        resource,
        "enableEncryptionAtHost",
        lambda pool: props.flag(pool, "enableEncryptionAtHost") is True,
        "node pools without encryption at host",
        "every node pool encrypts at host",
    )


@check(
    id="MLW-AKS-14",
    title="No AKS node pool gives nodes public IPs",
    kinds=_AKS,
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A node with its own public IP is reachable from the internet around the cluster's load "
        "balancer and network rules. Absent means no public IPs (the default) and passes."
    ),
    remediation="Replace node pools that have node public IPs.",
    az_cli="az aks nodepool add -g <rg> --cluster-name <name> -n <pool> (without --enable-node-public-ip)",
    references=(f"{_DOCS}/use-node-public-ips",),
)
def aks_no_node_public_ip(resource: Resource, estate: Estate) -> Verdict:
    return _judge_pools(
        resource,
        "enableNodePublicIP",
        lambda pool: props.flag(pool, "enableNodePublicIP") is not True,
        "node pools give nodes public IPs",
        "no node pool gives nodes public IPs",
    )


_NETWORK_POLICIES = ("azure", "calico", "cilium")


@check(
    id="MLW-AKS-15",
    title="AKS enforces Kubernetes network policies",
    kinds=_AKS,
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A network policy engine lets pod-to-pod traffic to model servers be restricted. Azure, Calico "
        "and Cilium pass (PSRule accepts only the first two; Cilium is the engine of Azure CNI powered by "
        "Cilium). Absent or 'none' means no engine (the default) and fails. Divergence: Checkov "
        "CKV_AZURE_7 passes any value, 'none' included."
    ),
    remediation="Enable a network policy engine (Azure, Calico or Cilium).",
    az_cli="az aks update -g <rg> -n <name> --network-policy azure",
    references=(f"{_DOCS}/use-network-policies",),
)
def aks_network_policy(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.networkProfile.networkPolicy")
    if props.equals(resource, "properties.networkProfile.networkPolicy", *_NETWORK_POLICIES):
        engine = props.text(resource, "properties.networkProfile.networkPolicy")
        return passed(f"network policies are enforced by {engine}", *evidence)
    return failed("no network policy engine is enabled", *evidence)


@check(
    id="MLW-AKS-16",
    title="AKS runs the Defender for Containers sensor",
    kinds=_AKS,
    severity="medium",
    tags=("threat-protection",),
    pillar="monitoring",
    rationale=(
        "The Defender profile deploys the sensor that reports runtime threats on the nodes. Read from "
        "securityProfile.defender.securityMonitoring.enabled, or the older preview path "
        "securityProfile.azureDefender.enabled that Azure Policy a1840de2 still tests; either true passes. "
        "Absent means no sensor (the default) and fails."
    ),
    remediation="Enable the Defender profile (Defender for Containers).",
    az_cli="az aks update -g <rg> -n <name> --enable-defender",
    azure_policy=("a1840de2-8088-4ea8-b153-b4c723e9cb01",),
    references=("https://learn.microsoft.com/azure/defender-for-cloud/defender-for-containers-enable",),
)
def aks_defender_profile(resource: Resource, estate: Estate) -> Verdict:
    path = "properties.securityProfile.defender.securityMonitoring.enabled"
    evidence = props.read(resource, path)
    if props.get(resource, _OLD_DEFENDER) is not None:  # the older preview shape, read only when present
        evidence = (*evidence, *props.read(resource, _OLD_DEFENDER))
    if props.flag(resource, path) is True or props.flag(resource, _OLD_DEFENDER) is True:
        return passed("the Defender sensor is enabled", *evidence)
    return failed("the Defender sensor is not enabled", *evidence)


@check(
    id="MLW-AKS-17",
    title="AKS has the Azure Policy add-on enabled",
    kinds=_AKS,
    severity="low",
    tags=("vulnerability-management",),
    pillar="monitoring",
    rationale=(
        "The Azure Policy add-on audits and enforces in-cluster rules (no privileged pods, allowed "
        "images). Absent means off (the default) and fails. The add-on key ('azurepolicy' live, "
        "'azurePolicy' in templates) is matched case-insensitively."
    ),
    remediation="Enable the azure-policy add-on.",
    az_cli="az aks enable-addons -g <rg> -n <name> --addons azure-policy",
    azure_policy=("0a15ec92-a229-4763-bb14-0ea34a568f8d",),
    references=("https://learn.microsoft.com/azure/governance/policy/concepts/policy-for-kubernetes",),
)
def aks_policy_addon(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.addonProfiles.azurepolicy.enabled")
    if props.flag(resource, "properties.addonProfiles.azurepolicy.enabled") is True:
        return passed("the Azure Policy add-on is enabled", *evidence)
    return failed("the Azure Policy add-on is not enabled", *evidence)


@check(
    id="MLW-AKS-18",
    title="AKS HTTP application routing add-on is off",
    kinds=_AKS,
    severity="low",
    tags=("private-network", "encryption-in-transit"),
    pillar="private-network",
    rationale=(
        "The retired HTTP application routing add-on publishes services through a public DNS zone "
        "over plain HTTP and is not meant for production. Absent means off (the default) and passes."
    ),
    remediation="Disable HTTP application routing; use the application routing (NGINX) add-on with TLS.",
    az_cli="az aks disable-addons -g <rg> -n <name> --addons http_application_routing",
    references=(f"{_DOCS}/http-application-routing",),
)
def aks_http_application_routing_off(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.addonProfiles.httpApplicationRouting.enabled")
    if props.flag(resource, "properties.addonProfiles.httpApplicationRouting.enabled") is True:
        return failed("HTTP application routing publishes services over plain HTTP", *evidence)
    return passed("HTTP application routing is off", *evidence)


def _no_local_key_ssh(pool: Any) -> bool:
    return props.equals(pool, _SSH, "Disabled", "EntraId")


def _runs_windows(pool: Any) -> bool:
    """A Windows Server pool (osType absent means Linux, the API default)."""
    return props.equals(pool, "osType", "Windows")


_WINDOWS_SSH = "AKS cannot turn SSH off on Windows Server node pools"


@check(
    id="MLW-AKS-19",
    title="AKS node pools do not accept SSH with local keys",
    kinds=_AKS,
    severity="low",
    tags=("local-auth",),
    pillar="identity",
    rationale=(
        "SSH with local keys is a way onto the nodes that bypasses Entra ID. Every Linux pool is judged. "
        "Absent means 'LocalUser' (the default) and fails. 'EntraId' (SSH authenticated by Entra ID) "
        "passes, unlike Azure Policy, which accepts only 'Disabled': it removes the local keys this rule is about. "
        "Windows Server pools (osType Windows) are not judged: the AKS guide to managing node SSH access says "
        "disabling SSH is not supported on node pools running Windows Server, so sshAccess cannot be set there "
        "and a fail could never be fixed; their SSH is limited with network security group rules on the node "
        "subnet instead. A cluster whose pools all run Windows is not applicable. Divergence: Azure Policy "
        "28257686 counts every agentPoolProfiles[*] entry, Windows pools included, so it flags any cluster with "
        "a Windows pool."
    ),
    remediation=(
        "Disable SSH on every Linux node pool (reimage the pool for it to take effect); for Windows Server "
        "pools, restrict port 22 with network security group rules on the node subnet."
    ),
    az_cli="az aks nodepool update -g <rg> --cluster-name <name> -n <pool> --ssh-access disabled",
    azure_policy=("28257686-e9db-403e-b9e2-a5eecbe03da9",),
    references=(f"{_DOCS}/manage-ssh-node-access",),
)
def aks_node_no_local_key_ssh(resource: Resource, estate: Estate) -> Verdict:
    pools = _pools(resource)
    if not pools:
        return unknown("the cluster row lists no node pools (agentPoolProfiles is empty or absent)")
    evidence = [
        ev for name, pool in pools for ev in (_pool_evidence(name, pool, "osType"), _pool_evidence(name, pool, _SSH))
    ]
    windows = [name for name, pool in pools if _runs_windows(pool)]
    linux = [(name, pool) for name, pool in pools if not _runs_windows(pool)]
    if not linux:
        return not_applicable(f"every node pool runs Windows Server: {_WINDOWS_SSH}", *evidence)
    skipped = f"; Windows pools not judged ({_WINDOWS_SSH}): {', '.join(windows)}" if windows else ""
    failing = [name for name, pool in linux if not _no_local_key_ssh(pool)]
    if failing:
        return failed(f"node pools accept SSH with local keys: {', '.join(failing)}{skipped}", *evidence)
    judged = f"{len(linux)} {'Linux ' if windows else ''}pool{'s' if len(linux) != 1 else ''}"
    return passed(f"no node pool accepts SSH with local keys ({judged}){skipped}", *evidence)


@check(
    id="MLW-AKS-20",
    title="AKS run command is disabled",
    kinds=_AKS,
    severity="low",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "Run command (command invoke) executes kubectl inside the cluster through the Azure API, a path "
        "around private-cluster network controls. Absent means enabled (the default) and fails."
    ),
    remediation="Disable run command.",
    az_cli="az aks update -g <rg> -n <name> --disable-run-command",
    azure_policy=("89f2d532-c53c-4f8f-9afa-4927b1114a0d",),
    references=(f"{_DOCS}/access-private-cluster",),
)
def aks_run_command_disabled(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.apiServerAccessProfile.disableRunCommand")
    if props.flag(resource, "properties.apiServerAccessProfile.disableRunCommand") is True:
        return passed("run command is disabled", *evidence)
    return failed("run command (command invoke) is enabled", *evidence)


_NODE_OS_CHANNELS = ("SecurityPatch", "NodeImage")
_CLUSTER_CHANNELS = ("rapid", "stable", "patch")


@check(
    id="MLW-AKS-21",
    title="AKS upgrades the cluster and node OS automatically",
    kinds=_AKS,
    severity="low",
    tags=("vulnerability-management",),
    pillar="monitoring",
    rationale=(
        "Automatic upgrades keep Kubernetes and the node OS patched. The cluster channel must be rapid, "
        "stable or patch, as Azure Policy 5c345cdf allows by default: 'none' upgrades nothing and "
        "'node-image' only node images, never the Kubernetes version (PSRule Azure.AKS.AutoUpgrade only "
        "rejects 'none'). The node OS channel must be SecurityPatch or NodeImage, or come from the "
        "'node-image' cluster channel, as Azure Policy 04408ca5 reads it. Either absent fails: an absent "
        "channel means no automatic upgrade on older clusters, and nothing else confirms it."
    ),
    remediation="Set a cluster auto-upgrade channel and a node OS upgrade channel.",
    az_cli="az aks update -g <rg> -n <name> --auto-upgrade-channel patch --node-os-upgrade-channel NodeImage",
    azure_policy=("5c345cdf-2049-47e0-b8fe-b0e96bc2df35", "04408ca5-aa10-42ce-8536-98955cdddd4c"),
    references=(f"{_DOCS}/auto-upgrade-cluster", f"{_DOCS}/auto-upgrade-node-os-image"),
)
def aks_auto_upgrade(resource: Resource, estate: Estate) -> Verdict:
    cluster = "properties.autoUpgradeProfile.upgradeChannel"
    node_os = "properties.autoUpgradeProfile.nodeOSUpgradeChannel"
    evidence = props.read(resource, cluster, node_os)
    missing = []
    channel = (props.text(resource, cluster) or "").lower()
    if channel == "node-image":
        missing.append("the node-image channel upgrades node images only, never the Kubernetes version")
    elif channel not in _CLUSTER_CHANNELS:
        missing.append("cluster auto-upgrade is off")
    if channel != "node-image" and not props.equals(resource, node_os, *_NODE_OS_CHANNELS):
        missing.append("node OS auto-upgrade is not SecurityPatch or NodeImage")
    if missing:
        return failed("; ".join(missing), *evidence)
    return passed("the cluster and node OS upgrade automatically", *evidence)
