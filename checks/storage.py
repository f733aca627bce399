"""Storage account checks: transport encryption, anonymous and shared-key access, network exposure, CMK.

Storage accounts hold ML training data, datastores and model artifacts, so these rules decide
whether that data can leave over the internet or be read with a leaked account key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from checks._deploy_links import storage_link
from checks._shared import (
    PERIMETER,
    PERIMETER_DENIES,
    default_action,
    link_endpoints,
    private_endpoint_verdict,
    public_access_verdict,
)
from scanner import inventory, kinds, props
from scanner.estate import Estate
from scanner.models import Evidence, Resource
from scanner.registry import CheckFunc, CheckResult, Verdict, check, failed, not_applicable, passed, unknown

_DOCS = "https://learn.microsoft.com/azure/storage"
_TLS = re.compile(r"^tls(\d+)_(\d+)$", re.IGNORECASE)
MIN_TLS = (1, 2)
CLOUD_SHELL_TAG = ("ms-resource-usage", "azure-cloud-shell")


def cloud_shell_tag(resource: Resource) -> str | None:
    """The tag key when the account is tagged `ms-resource-usage: azure-cloud-shell` (any casing)."""
    for key, value in (resource.tags or {}).items():
        if str(key).strip().lower() == CLOUD_SHELL_TAG[0] and str(value).strip().lower() == CLOUD_SHELL_TAG[1]:
            return str(key)
    return None


def cloud_shell_exemption(resource: Resource, estate: Estate) -> Verdict | None:
    """Cloud Shell's own storage (a user's clouddrive file share) is not ML data: every storage check
    is not applicable to it, unless an ML resource references the account (then it is judged)."""
    tag = cloud_shell_tag(resource)
    if tag is None or estate.ml_users(resource) or storage_link(estate):
        return None  # used by ML, or may be (a workspace's storage known only at deployment): judged
    return not_applicable(
        "Cloud Shell storage (tagged ms-resource-usage: azure-cloud-shell) that no ML resource references",
        Evidence(path=f"tags.{tag}", value=CLOUD_SHELL_TAG[1]),
        Evidence(path="referencedByMl", value=[]),
    )


def storage_check(**meta: Any) -> Callable[[CheckFunc], CheckFunc]:
    """`@check` for storage accounts, with the Cloud Shell rule applied once for all of them."""

    def register(func: CheckFunc) -> CheckFunc:
        @functools.wraps(func)
        def judged(resource: Resource, estate: Estate) -> CheckResult:
            exempt = props.derived(resource, cloud_shell_exemption, estate)
            return exempt if exempt is not None else func(resource, estate)

        return check(kinds=(kinds.STORAGE,), **meta)(judged)

    return register


@storage_check(
    id="MLW-ST-01",
    title="Storage account accepts HTTPS traffic only",
    severity="high",
    tags=("encryption-in-transit",),
    pillar="encryption",
    rationale=(
        "Secure transfer required rejects plain HTTP (and unencrypted SMB), so data and SAS tokens never "
        "cross the network in clear text. Absent supportsHttpsTrafficOnly is the service default, true "
        "for accounts created with API version 2019-04-01 or later, so it passes; only an explicit false "
        "fails. That is Azure Policy 404c3081's reading (absent fails only before 2019-04-01, which a "
        "template's older apiVersion gets as an explicit false) and Checkov CKV_AZURE_3's. Divergence: "
        "PSRule Azure.Storage.SecureTransfer (equals true) fails an absent value."
    ),
    remediation="Enable secure transfer required.",
    az_cli="az storage account update -g <rg> -n <account> --https-only true",
    azure_policy=("404c3081-a854-4457-ae30-26a93ef643f9",),
    references=(f"{_DOCS}/common/storage-require-secure-transfer",),
)
def storage_https_only(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.supportsHttpsTrafficOnly")
    value = props.flag(resource, "properties.supportsHttpsTrafficOnly")
    if value is False:
        return failed("HTTP traffic is accepted", *evidence)
    if value is None:
        return passed("secure transfer is not reported; the service default requires HTTPS", *evidence)
    return passed("only HTTPS traffic is accepted", *evidence)


def tls_version(value: str | None) -> tuple[int, int] | None:
    """`TLS1_2` -> (1, 2); None for anything else."""
    match = _TLS.match(value or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


@storage_check(
    id="MLW-ST-02",
    title="Storage account requires TLS 1.2 or later",
    severity="high",
    tags=("encryption-in-transit",),
    pillar="encryption",
    rationale=(
        "TLS 1.0 and 1.1 have known weaknesses and are deprecated. Divergence: PSRule, Azure Policy and "
        "Checkov all test minimumTlsVersion == 'TLS1_2', which would fail TLS1_3; mlwarden passes any "
        "version at or above TLS 1.2. Absent minimumTlsVersion fails, as all three anchors do: accounts "
        "created before the property existed accept TLS 1.0, and the row does not say which default "
        "applies."
    ),
    remediation="Set the minimum TLS version to TLS 1.2.",
    az_cli="az storage account update -g <rg> -n <account> --min-tls-version TLS1_2",
    azure_policy=("fe83a0eb-a853-422d-aac2-1bffd182c5d0",),
    references=(f"{_DOCS}/common/transport-layer-security-configure-minimum-version",),
)
def storage_min_tls(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.minimumTlsVersion")
    value = props.text(resource, "properties.minimumTlsVersion")
    if value is None:
        return failed("minimum TLS version is not set (older accounts accept TLS 1.0)", *evidence)
    version = tls_version(value)
    if version is None:
        return failed(f"minimum TLS version {value!r} is not a recognised TLS version", *evidence)
    if version >= MIN_TLS:
        return passed(f"minimum TLS version is {value}", *evidence)
    return failed(f"minimum TLS version is {value}, below TLS 1.2", *evidence)


@storage_check(
    id="MLW-ST-03",
    title="Storage account disallows anonymous blob access",
    severity="high",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "With allowBlobPublicAccess any container can be made readable by anyone on the internet with no "
        "credential. Divergence: Azure Policy fails an absent allowBlobPublicAccess and mlwarden does too, "
        "because accounts created before the property existed allow public access when it is unset. "
        "Kind FileStorage has no blob service, so the check does not apply (as PSRule skips it)."
    ),
    remediation="Disallow blob public access on the account.",
    az_cli="az storage account update -g <rg> -n <account> --allow-blob-public-access false",
    azure_policy=("4fa4b6c0-31ca-4c0d-b10d-24b96f62a751",),
    references=(f"{_DOCS}/blobs/anonymous-read-access-prevent",),
)
def storage_blob_public_access(resource: Resource, estate: Estate) -> Verdict:
    evidence = (Evidence(path="kind", value=resource.kind), *props.read(resource, "properties.allowBlobPublicAccess"))
    if (resource.kind or "").lower() == "filestorage":
        return not_applicable("FileStorage accounts have no blob service", *evidence)
    value = props.flag(resource, "properties.allowBlobPublicAccess")
    if value is False:
        return passed("anonymous blob access is disallowed", *evidence)
    if value is None:
        return failed("anonymous blob access is not disallowed (unset)", *evidence)
    return failed("anonymous blob access is allowed", *evidence)


@storage_check(
    id="MLW-ST-04",
    title="Storage account disables public network access",
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "With public network access disabled the account is only reachable through private endpoints. "
        "Divergence: Checkov (CKV_AZURE_59) fails only an explicit Enabled; Azure Policy fails anything "
        "but Disabled. mlwarden follows Azure Policy: absent means the default, Enabled, and fails; so "
        "does SecuredByPerimeter, whose perimeter rules may still admit public address ranges."
    ),
    remediation="Disable public network access and use private endpoints.",
    az_cli="az storage account update -g <rg> -n <account> --public-network-access Disabled",
    azure_policy=("b2982f36-99f2-4db5-8eff-283140c09693",),
    references=(f"{_DOCS}/common/storage-network-security",),
)
def storage_public_network_access(resource: Resource, estate: Estate) -> Verdict:
    return public_access_verdict(resource)


@storage_check(
    id="MLW-ST-05",
    title="Storage account firewall denies by default",
    severity="high",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A default action of Deny limits the public endpoint to listed networks. Absent networkAcls means "
        "Allow and fails. Deviation from the catalog's defaultAction-only rule (and Azure Policy 34c877ad): "
        "an account with public network access Disabled also passes, since its firewall then guards "
        "nothing (the same rule mlwarden applies to Key Vault and ACR), and so does SecuredByPerimeter, "
        "where a network security perimeter's access rules replace networkAcls and deny by default."
    ),
    remediation="Set the storage firewall's default action to Deny and allow only the networks that need it.",
    az_cli="az storage account update -g <rg> -n <account> --default-action Deny",
    azure_policy=("34c877ad-507e-4c82-993e-3452a6e0ad3c",),
    references=(f"{_DOCS}/common/storage-network-security",),
)
def storage_firewall(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.networkAcls.defaultAction", "properties.publicNetworkAccess")
    if props.equals(resource, "properties.networkAcls.defaultAction", "Deny"):
        return passed("the firewall denies by default", *evidence)
    if props.equals(resource, "properties.publicNetworkAccess", "Disabled"):
        return passed("public network access is Disabled, so the firewall has nothing to guard", *evidence)
    if props.equals(resource, "properties.publicNetworkAccess", PERIMETER):
        return passed(PERIMETER_DENIES, *evidence)
    action = default_action(resource, "properties.networkAcls.defaultAction")
    return failed(f"the firewall default action is {action}", *evidence)


@storage_check(
    id="MLW-ST-06",
    title="Storage account is reached through an approved private endpoint",
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A private endpoint keeps data traffic on the virtual network. Storage reports its connections "
        "as a child type, so approved links come from the account's own list and from private endpoint "
        "resources in the estate; pending or rejected connections do not count."
    ),
    remediation="Create a private endpoint (group id blob, dfs, file, ...) for the account and approve it.",
    az_cli=(
        "az network private-endpoint create -g <rg> -n <pe> --vnet-name <vnet> --subnet <subnet> "
        "--private-connection-resource-id <account-id> --group-id blob --connection-name <name>"
    ),
    azure_policy=("6edd7eda-6dd8-40f7-810d-67160c639cd9",),
    references=(f"{_DOCS}/common/storage-private-endpoints",),
)
def storage_private_endpoint(resource: Resource, estate: Estate) -> Verdict:
    links = estate.private_links(resource)
    return private_endpoint_verdict("the account", links, link_endpoints(links))


@storage_check(
    id="MLW-ST-07",
    title="Storage account prevents shared key access",
    severity="medium",
    tags=("local-auth",),
    pillar="identity",
    rationale=(
        "Account keys grant full access to all data, never expire on their own and identify no caller; "
        "with shared key access off every request needs Entra ID. Absent or null allowSharedKeyAccess "
        "fails, as PSRule Azure.Storage.LocalAuth scores it: the service treats null as true (keys "
        "accepted). Divergence: Azure Policy 8c6a50c6 flags only an explicit true (its condition is "
        "equals 'true'), so it passes null; CHECKS.md's note that it fails absent does not hold. Note: "
        "an ML workspace's default datastores need keys unless the workspace uses identity-based access "
        "(MLW-MLWS-07)."
    ),
    remediation="Disallow shared key access after moving clients (and ML datastores) to Entra ID auth.",
    az_cli="az storage account update -g <rg> -n <account> --allow-shared-key-access false",
    azure_policy=("8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54",),
    references=(f"{_DOCS}/common/shared-key-authorization-prevent",),
)
def storage_shared_key_access(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.allowSharedKeyAccess")
    value = props.flag(resource, "properties.allowSharedKeyAccess")
    if value is False:
        return passed("shared key access is disallowed", *evidence)
    if value is None:
        return failed("shared key access is not disallowed (unset means keys are accepted)", *evidence)
    return failed("shared key access is allowed", *evidence)


@storage_check(
    id="MLW-ST-08",
    title="Storage account encrypts with a customer-managed key",
    severity="medium",
    tags=("encryption-at-rest", "key-lifecycle"),
    pillar="encryption",
    rationale=(
        "A customer-managed key in Key Vault lets the data owner rotate, audit and revoke the key that "
        "protects the data at rest. Passes when keySource is Microsoft.Keyvault (any casing) and the "
        "lower-case keyvaultproperties block names a vault URI and key. Absent encryption means "
        "Microsoft-managed keys and fails. Key Vault as key source with no vault URI or key name in the row "
        "still passes, as Azure Policy 6fac406b (keySource only) scores it: the service refuses that key "
        "source without them."
    ),
    remediation="Configure customer-managed keys for the account with a key in Key Vault.",
    az_cli=(
        "az storage account update -g <rg> -n <account> --encryption-key-source Microsoft.Keyvault "
        "--encryption-key-vault <vault-uri> --encryption-key-name <key>"
    ),
    azure_policy=("6fac406b-40ca-413b-bf8e-0bf964659c25",),
    references=(f"{_DOCS}/common/customer-managed-keys-overview",),
)
def storage_cmk(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(
        resource,
        "properties.encryption.keySource",
        "properties.encryption.keyvaultproperties.keyvaulturi",
        "properties.encryption.keyvaultproperties.keyname",
    )
    source = props.text(resource, "properties.encryption.keySource")
    if not props.equals(resource, "properties.encryption.keySource", "Microsoft.Keyvault"):
        return failed(f"data is encrypted with {source or 'Microsoft.Storage (default)'} keys, not a CMK", *evidence)
    uri = props.text(resource, "properties.encryption.keyvaultproperties.keyvaulturi")
    name = props.text(resource, "properties.encryption.keyvaultproperties.keyname")
    if not (uri and name):
        return passed("data is encrypted with a customer-managed key (the row names no vault URI or key)", *evidence)
    return passed(f"data is encrypted with customer-managed key {name}", *evidence)


@storage_check(
    id="MLW-ST-09",
    title="Storage account uses infrastructure (double) encryption",
    severity="low",
    tags=("encryption-at-rest",),
    pillar="encryption",
    rationale=(
        "Infrastructure encryption adds a second, independent AES-256 layer below service encryption, so "
        "one broken algorithm or key does not expose the data. It can only be chosen when the account is "
        "created; absent requireInfrastructureEncryption means off and fails."
    ),
    remediation="Recreate the account with infrastructure encryption and migrate the data.",
    az_cli="az storage account create -g <rg> -n <account> --require-infrastructure-encryption true",
    azure_policy=("4733ea7b-a883-42fe-8cac-97454c2a9e4a",),
    references=(f"{_DOCS}/common/infrastructure-encryption-enable",),
)
def storage_infrastructure_encryption(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.encryption.requireInfrastructureEncryption")
    if props.flag(resource, "properties.encryption.requireInfrastructureEncryption") is True:
        return passed("infrastructure encryption is enabled", *evidence)
    return failed("infrastructure encryption is not enabled", *evidence)


_REPLICATING_KINDS = frozenset({"storagev2", "blockblobstorage"})
"""Account kinds that support blob object replication (general-purpose v2, premium block blob)."""


@storage_check(
    id="MLW-ST-10",
    title="Storage account prevents cross-tenant object replication",
    severity="low",
    tags=("data-residency",),
    pillar="private-network",
    rationale=(
        "Object replication to an account in another Entra tenant copies data out of the organisation's "
        "control and jurisdiction. Absent allowCrossTenantReplication fails on a live row: older accounts "
        "allowed it when unset, and the row does not say which default applies (divergence: Azure Policy "
        "92a89a79 flags only an explicit true). A template or plan that leaves it out passes, as Policy "
        "92a89a79 scores it: the property's documented default is false for new accounts, and an existing "
        "account it redeploys keeps its own value, which a live scan judges. "
        "Object replication exists on general-purpose v2 and premium block "
        "blob accounts only (Azure Storage docs, object replication prerequisites), so other kinds "
        "(FileStorage, classic Storage, BlobStorage) are not applicable, whatever the flag says."
    ),
    remediation="Disallow cross-tenant object replication.",
    az_cli="az storage account update -g <rg> -n <account> --allow-cross-tenant-replication false",
    azure_policy=("92a89a79-6c52-4a7e-a03f-61306fc49312",),
    references=(f"{_DOCS}/blobs/object-replication-prevent-cross-tenant-policies",),
)
def storage_cross_tenant_replication(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.allowCrossTenantReplication")
    if resource.kind and resource.kind.lower() not in _REPLICATING_KINDS:
        evidence = (Evidence(path="kind", value=resource.kind), *evidence)
        return not_applicable(f"accounts of kind {resource.kind} have no object replication", *evidence)
    value = props.flag(resource, "properties.allowCrossTenantReplication")
    if value is False:
        return passed("cross-tenant object replication is disallowed", *evidence)
    if value is None and resource.source_file:
        return passed("not set here; new accounts default to disallowing cross-tenant replication", *evidence)
    if value is None:
        return failed("cross-tenant object replication is not disallowed (unset)", *evidence)
    return failed("cross-tenant object replication is allowed", *evidence)


CONTAINER_TYPE = "microsoft.storage/storageaccounts/blobservices/containers"


def _container_access(container: Resource) -> str | None:
    """`Blob` or `Container` when anonymous reads are allowed; None for `None` or absent."""
    access = props.text(container, "properties.publicAccess")
    return access if access and access.lower() != "none" else None


@storage_check(
    id="MLW-ST-11",
    title="Blob containers on ML storage allow no anonymous access",
    severity="high",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "A container whose publicAccess is Blob or Container serves training data, datasets or model "
        "artifacts to anyone on the internet with no credential. Judged on storage accounts an ML "
        "resource references (a workspace's storageAccount, a registry's storage); other accounts are "
        "not applicable. allowBlobPublicAccess false on the account overrides every container and "
        "passes; otherwise each container's publicAccess is read from an ARM container list (Reader), "
        "absent or None meaning private. An account whose containers were not listed is unknown, a "
        "coverage gap naming the account."
    ),
    remediation="Disallow blob public access on the account, or set each public container's access level to private.",
    az_cli="az storage account update -g <rg> -n <account> --allow-blob-public-access false",
    references=(f"{_DOCS}/blobs/anonymous-read-access-prevent",),
)
def storage_public_containers(resource: Resource, estate: Estate) -> Verdict:
    users = sorted(user.id for user in estate.ml_users(resource))
    evidence = (
        Evidence(path="referencedByMl", value=users),
        *props.read(resource, "properties.allowBlobPublicAccess"),
    )
    if not users:  # unknown instead when a workspace's storage is known only at deployment
        return not_applicable("no ML resource uses this account", *evidence, *storage_link(estate))
    if (resource.kind or "").lower() == "filestorage":
        return not_applicable("FileStorage accounts have no blob service", *evidence)
    if props.flag(resource, "properties.allowBlobPublicAccess") is False:
        return passed("the account disallows anonymous blob access, which overrides every container", *evidence)
    if reason := estate.not_applicable(inventory.BLOB_CONTAINERS):
        return not_applicable(reason, *evidence)
    gap = estate.gap(inventory.BLOB_CONTAINERS, resource.id)
    if gap is not None:
        return unknown(f"the blob containers of account {resource.name} were not listed: {gap.reason}", *evidence)
    containers = estate.children(f"{resource.id}/blobServices/default", CONTAINER_TYPE)
    public = sorted((c.name.rsplit("/", 1)[-1], access) for c in containers if (access := _container_access(c)))
    listed = Evidence(
        path="blobServices/default/containers[*].properties.publicAccess",
        value={c.name.rsplit("/", 1)[-1]: props.get(c, "properties.publicAccess") for c in containers},
    )
    if public:
        names = ", ".join(f"{name} ({access})" for name, access in public)
        return failed(f"{len(public)} container(s) allow anonymous reads: {names}", *evidence, listed)
    return passed(f"none of {len(containers)} container(s) allows anonymous access", *evidence, listed)
