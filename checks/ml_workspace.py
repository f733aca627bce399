"""Azure ML workspace checks (MLW-MLWS-*): network exposure, CMK, identity, datastore auth, logs.

A workspace (kind Default, Hub, Project or FeatureStore) holds the models, data references and
secrets every deployment under it uses. Hub-based projects take their network isolation from the
hub (`properties.hubResourceId`): the network rules judge the hub for a project when the hub is
in the scan, and the evidence marks the hub's values with a `hub:` prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from checks._shared import (
    CMK_KEY_ID,
    CMK_STATUS,
    cmk_verdict,
    enabled_logs,
    identity_verdict,
    link_states,
    no_diagnostic_settings,
    private_endpoint_verdict,
    public_access_verdict,
    read_from,
    unknown_settings,
)
from scanner import inventory, kinds, props
from scanner.estate import Estate
from scanner.models import Evidence, Resource, Severity
from scanner.registry import Verdict, check, failed, not_applicable, passed, unknown

_WORKSPACE = (kinds.ML_WORKSPACE,)
_DOCS = "https://learn.microsoft.com/azure/machine-learning"
_ISOLATION = "properties.managedNetwork.isolationMode"
_HUB = "properties.hubResourceId"
_PUBLIC = ("properties.publicNetworkAccess", "properties.allowPublicAccessWhenBehindVnet")
PUBLIC_ACCESS_UNSET = "public network access is not set, so the service default (Enabled) applies"


def is_project(workspace: Resource) -> bool:
    """A hub-based project: it shares the hub's network, storage, vault and registry."""
    return (workspace.kind or "").lower() == "project"


def hub_of(workspace: Resource, estate: Estate) -> Resource | None:
    return estate.get(props.text(workspace, _HUB))


def _hub_evidence(hub: Resource, *paths: str) -> tuple[Evidence, ...]:
    """The hub's values, with paths marked as the hub's so the auditor knows whose they are."""
    return read_from("hub:", hub, *paths)


def network_subject(workspace: Resource, estate: Estate, *paths: str) -> tuple[Resource | None, tuple[Evidence, ...]]:
    """The workspace whose settings at `paths` apply, with the evidence read from it and from the row.

    Projects inherit the hub's network configuration (and its storage, hence datastore auth), so the
    hub is authoritative when it is in the scan. A project whose hub is missing is judged on its own
    values if it states any; otherwise the subject is None (unknown).
    """
    evidence = props.read(workspace, *paths)
    if not is_project(workspace):
        return workspace, evidence
    evidence = (*evidence, *props.read(workspace, _HUB))
    hub = hub_of(workspace, estate)
    if hub is not None:
        return hub, (*evidence, *_hub_evidence(hub, *paths))
    if any(props.text(workspace, path) is not None for path in paths):
        return workspace, evidence
    return None, evidence


def _judge_network(
    workspace: Resource,
    estate: Estate,
    paths: tuple[str, ...],
    judge: Callable[[Resource, tuple[Evidence, ...]], Verdict],
    no_subject: str,
) -> Verdict:
    """`judge` the settings in force (a project's hub's); unknown (`no_subject`) when they
    cannot be told, and the message says so when the verdict rests on the hub's settings."""
    subject, evidence = network_subject(workspace, estate, *paths)
    if subject is None:
        return unknown(no_subject, *evidence)
    verdict = judge(subject, evidence)
    if subject is workspace:
        return verdict
    return replace(verdict, message=f"{verdict.message} (inherited from hub {subject.name})")


def isolation_mode(workspace: Resource, estate: Estate) -> str | None:
    """The managed network isolation mode in force for a workspace (a project's comes from its hub).

    None when it cannot be told or none is stated (the service default is Disabled).
    """
    subject, _ = network_subject(workspace, estate, _ISOLATION)
    return props.text(subject, _ISOLATION) if subject is not None else None


def has_managed_isolation(workspace: Resource, estate: Estate) -> bool:
    """True when a managed VNet isolates the workspace's computes and managed endpoints."""
    mode = isolation_mode(workspace, estate)
    return mode is not None and mode.lower() in ("allowinternetoutbound", "allowonlyapprovedoutbound")


def failed_unless_managed_network(
    resource: Resource, estate: Estate, evidence: tuple[Evidence, ...], *, isolated: str, exposed: str
) -> Verdict:
    """For a compute or deployment whose own setting is open: not applicable (`isolated`) when its
    workspace's managed network governs it, else a fail (`exposed`); unknown without the workspace."""
    workspace = estate.workspace_of(resource)
    if workspace is None:
        return unknown("the workspace is not in the scan, so managed network isolation cannot be ruled out", *evidence)
    evidence = (
        *evidence,
        Evidence(path="workspace:properties.managedNetwork.isolationMode", value=isolation_mode(workspace, estate)),
    )
    if has_managed_isolation(workspace, estate):
        return not_applicable(isolated, *evidence)
    return failed(exposed, *evidence)


def _public_access(subject: Resource, evidence: tuple[Evidence, ...]) -> Verdict:
    if props.flag(subject, "properties.allowPublicAccessWhenBehindVnet") is True:
        return failed("allowPublicAccessWhenBehindVnet is true: the workspace is reachable publicly", *evidence)
    return public_access_verdict(subject, *evidence, unset=PUBLIC_ACCESS_UNSET)


@check(
    id="MLW-MLWS-01",
    title="ML workspace public network access is disabled",
    kinds=_WORKSPACE,
    severity="high",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A workspace reachable from the internet exposes its data, models and job history to anyone "
        "holding a credential. publicNetworkAccess absent fails (Divergence: Azure Policy 438c38d2 "
        "fails it, Checkov CKV2_AZURE_49 passes it); the service default is Enabled. "
        "allowPublicAccessWhenBehindVnet true re-opens a private workspace and also fails. A project "
        "inherits its hub's network settings and is judged by the hub when the hub is in the scan."
    ),
    remediation="Disable public network access and reach the workspace through a private endpoint.",
    az_cli="az ml workspace update -g <rg> -n <name> --public-network-access Disabled",
    azure_policy=("438c38d2-3772-465a-a9cc-7a6666a275ce",),
    references=(f"{_DOCS}/how-to-configure-private-link",),
)
def workspace_public_access(resource: Resource, estate: Estate) -> Verdict:
    no_subject = "the project states no public network access and its hub is not in the scan"
    return _judge_network(resource, estate, _PUBLIC, _public_access, no_subject)


@check(
    id="MLW-MLWS-02",
    title="ML workspace is reached through an approved private endpoint",
    kinds=_WORKSPACE,
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A private endpoint gives the workspace an address inside the virtual network, so clients "
        "reach it without crossing the internet. Both the workspace's own connection list and "
        "private endpoint rows in the scan count; only an Approved connection passes. A project is "
        "reached through its hub's private endpoint, so the hub is judged."
    ),
    remediation="Create a private endpoint (group id amlworkspace) for the workspace or its hub.",
    az_cli=(
        "az network private-endpoint create -g <rg> -n <pe> --vnet-name <vnet> --subnet <subnet> "
        "--private-connection-resource-id <workspace-id> --group-id amlworkspace --connection-name <conn>"
    ),
    azure_policy=("45e05259-1eb5-4f70-9574-baf73e9d219b",),
    references=(f"{_DOCS}/how-to-configure-private-link",),
)
def workspace_private_endpoint(resource: Resource, estate: Estate) -> Verdict:
    owner, evidence = network_subject(resource, estate)
    if owner is None:
        return unknown("the project's hub is not in the scan; its private endpoints cannot be judged", *evidence)
    links = estate.private_links(owner)
    whose = f"the hub {owner.name}" if owner is not resource else "the workspace"
    return private_endpoint_verdict(whose, links, *evidence, link_states(links), per_connection=True)


@check(
    id="MLW-MLWS-03",
    title="ML workspace is encrypted with a customer-managed key",
    kinds=_WORKSPACE,
    severity="medium",
    tags=("encryption-at-rest", "key-lifecycle"),
    pillar="encryption",
    rationale=(
        "A customer-managed key in Key Vault lets the organisation rotate and revoke access to "
        "workspace data (HIPAA/GDPR key custody). encryption.status must be Enabled with a "
        "keyVaultProperties.keyIdentifier; absent means Microsoft-managed keys and fails. Projects "
        "inherit the hub's encryption and are not applicable. Enabled with no key identifier in the row "
        "passes, as Azure Policy 7f40cee6 (status only) does: the service refuses Enabled without a key."
    ),
    remediation="Create the workspace with a customer-managed key (it cannot be added afterwards).",
    az_cli="az ml workspace create -g <rg> -n <name> --customer-managed-key <key-uri> ...",
    azure_policy=("ba769a63-b8cc-4b2d-abf6-ac33c7204be8", "7f40cee6-e933-4d0f-a782-b96615e0f4a6"),
    references=(f"{_DOCS}/concept-customer-managed-keys",),
)
def workspace_cmk(resource: Resource, estate: Estate) -> Verdict:
    if is_project(resource):
        evidence = props.read(resource, CMK_STATUS, CMK_KEY_ID)
        return not_applicable("a hub-based project inherits its hub's encryption settings", *evidence)
    return cmk_verdict(
        resource,
        encrypted="workspace data is encrypted with a customer-managed key",
        off="workspace data is encrypted with Microsoft-managed keys only",
    )


@check(
    id="MLW-MLWS-04",
    title="ML workspace has a managed identity",
    kinds=_WORKSPACE,
    severity="medium",
    tags=("managed-identity",),
    pillar="identity",
    rationale=(
        "The workspace reaches its storage, Key Vault and registry with its managed identity; without "
        "one it needs stored credentials. identity.type is parsed as a set ('SystemAssigned, "
        "UserAssigned'); absent or None fails."
    ),
    remediation="Assign a system- or user-assigned managed identity to the workspace.",
    az_cli="az ml workspace update -g <rg> -n <name> --system-assigned-identity true",
    references=(f"{_DOCS}/how-to-identity-based-service-authentication",),
)
def workspace_managed_identity(resource: Resource, estate: Estate) -> Verdict:
    return identity_verdict(resource, "the workspace", assigned=props.has_managed_identity)


@check(
    id="MLW-MLWS-05",
    title="ML workspace uses a user-assigned primary identity",
    kinds=_WORKSPACE,
    severity="low",
    tags=("managed-identity",),
    pillar="identity",
    rationale=(
        "A user-assigned identity outlives the workspace and can be granted access to a CMK vault "
        "before the workspace exists. Passes when identity.type includes UserAssigned and "
        "primaryUserAssignedIdentity names it; absent fails."
    ),
    remediation="Create a user-assigned identity and set it as the workspace's primary identity.",
    az_cli="az ml workspace update -g <rg> -n <name> --primary-user-assigned-identity <identity-id>",
    azure_policy=("5f0c7d88-c7de-45b8-ac49-db49e72eaa78",),
    references=(f"{_DOCS}/how-to-identity-based-service-authentication",),
)
def workspace_user_assigned_identity(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "identity.type", "properties.primaryUserAssignedIdentity")
    user_assigned = "userassigned" in props.identity_types(resource)
    primary = props.text(resource, "properties.primaryUserAssignedIdentity")
    if user_assigned and primary:
        return passed("a user-assigned identity is the workspace's primary identity", *evidence)
    if user_assigned:
        return failed("a user-assigned identity is attached but not set as primary", *evidence)
    return failed("the workspace has no user-assigned identity", *evidence)


def _managed_network(subject: Resource, evidence: tuple[Evidence, ...]) -> Verdict:
    mode = props.text(subject, _ISOLATION)
    if props.equals(subject, _ISOLATION, "AllowOnlyApprovedOutbound"):
        return passed("the managed VNet allows only approved outbound traffic", *evidence)
    if props.equals(subject, _ISOLATION, "AllowInternetOutbound"):
        return failed(
            "the managed VNet allows outbound traffic to the whole internet", *evidence, severity=Severity.LOW
        )
    if mode is None:
        return failed("no managed network is configured (the default is Disabled)", *evidence)
    return failed(f"managed network isolation is {mode}", *evidence)


@check(
    id="MLW-MLWS-06",
    title="ML workspace uses a managed VNet that allows only approved outbound traffic",
    kinds=_WORKSPACE,
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "With managedNetwork.isolationMode AllowOnlyApprovedOutbound, computes and managed endpoints "
        "run in a Microsoft-managed VNet that can reach only approved destinations, which blocks data "
        "exfiltration. AllowInternetOutbound isolates inbound traffic but lets jobs reach any internet "
        "host: it fails at low severity. Disabled or absent (the default) fails. Divergence: Azure "
        "Policy 6ddb1705 compares against its isolationMode parameter, which defaults to Disabled, so "
        "at its default it flags hardened workspaces; mlwarden always requires "
        "AllowOnlyApprovedOutbound. A project inherits its hub's managed network and is judged by the hub."
    ),
    remediation="Set the workspace (or hub) managed network to allow only approved outbound traffic.",
    az_cli="az ml workspace update -g <rg> -n <name> --managed-network allow_only_approved_outbound",
    azure_policy=("6ddb1705-c8cf-450e-aa4b-19ad6703c440",),
    references=(f"{_DOCS}/how-to-managed-network",),
)
def workspace_managed_network(resource: Resource, estate: Estate) -> Verdict:
    no_subject = "the project states no managed network and its hub is not in the scan"
    return _judge_network(resource, estate, (_ISOLATION,), _managed_network, no_subject)


@check(
    id="MLW-MLWS-07",
    title="ML workspace system datastores use identity-based access",
    kinds=_WORKSPACE,
    severity="medium",
    tags=("local-auth", "managed-identity"),
    pillar="identity",
    rationale=(
        "With systemDatastoresAuthMode AccessKey (the default) the workspace keeps the storage "
        "account key and its default datastores need shared-key access left on the account. Identity "
        "passes; UserDelegationSAS also passes, since those tokens are signed with Entra credentials "
        "and need no account key. Absent means AccessKey and fails. A hub (kind Hub) is judged like any "
        "workspace. A hub-based project (kind Project) uses its hub's storage account, and the Foundry guide "
        "sets the mode on the hub only: a project row that states a mode is judged on it, one that states "
        "none on its hub's (unknown when the hub is not in the scan), never failed for the hub's setting "
        "being left off the project row."
    ),
    remediation="Set the workspace's system datastores to identity-based access, then disable shared keys.",
    az_cli="az ml workspace update -g <rg> -n <name> --system-datastores-auth-mode identity",
    references=(f"{_DOCS}/how-to-disable-local-auth-storage",),
)
def workspace_datastore_auth(resource: Resource, estate: Estate) -> Verdict:
    if is_project(resource) and props.text(resource, _DATASTORE_AUTH) is None:
        return _judge_network(
            resource,
            estate,
            (_DATASTORE_AUTH,),
            _datastore_auth,
            "a hub-based project that states no datastore auth mode takes its hub's, and the hub is not in the scan",
        )
    return _datastore_auth(resource, props.read(resource, _DATASTORE_AUTH))


_DATASTORE_AUTH = "properties.systemDatastoresAuthMode"


def _datastore_auth(subject: Resource, evidence: tuple[Evidence, ...]) -> Verdict:
    mode = props.text(subject, _DATASTORE_AUTH)
    if props.equals(subject, _DATASTORE_AUTH, "Identity"):
        return passed("system datastores use the workspace identity", *evidence)
    if props.equals(subject, _DATASTORE_AUTH, "UserDelegationSAS"):
        return passed("system datastores use Entra-signed user delegation SAS, not account keys", *evidence)
    if mode is None:
        return failed("system datastore auth mode is not set, so storage account keys are used", *evidence)
    return failed(f"system datastores use {mode} (storage account keys)", *evidence)


_DESTINATIONS = (
    "properties.workspaceId",
    "properties.storageAccountId",
    "properties.eventHubAuthorizationRuleId",
    "properties.marketplacePartnerId",
)


def sends_logs(setting: Resource) -> bool:
    """A diagnostic setting with a destination and at least one enabled log category or group."""
    has_destination = any(props.text(setting, path) for path in _DESTINATIONS)
    return has_destination and bool(enabled_logs(setting))


@check(
    id="MLW-MLWS-08",
    title="ML workspace resource logs are collected",
    kinds=_WORKSPACE,
    severity="low",
    tags=("logging",),
    pillar="monitoring",
    rationale=(
        "Workspace resource logs record job, model, deployment and data access operations, the audit "
        "trail HIPAA 164.312(b) asks for. Passes when a diagnostic setting sends at least one enabled "
        "log category or group to a destination. Diagnostic settings need one extra call per resource; "
        "when they were not collected the result is unknown, never a pass. Divergence: Azure Policy "
        "afe0c3be also fails a setting whose storage-account retention policy is on with fewer than 365 "
        "days; mlwarden does not judge retention, which diagnostic settings no longer apply (storage "
        "lifecycle rules replace it)."
    ),
    remediation="Add a diagnostic setting that sends the workspace's logs to Log Analytics or storage.",
    az_cli=(
        "az monitor diagnostic-settings create --resource <workspace-id> -n audit --workspace <law-id> "
        '--logs \'[{"categoryGroup":"allLogs","enabled":true}]\''
    ),
    azure_policy=("afe0c3be-ba3b-4544-ba52-0c99672a8ad6",),
    references=(f"{_DOCS}/monitor-azure-machine-learning",),
    needs=(inventory.DIAGNOSTIC_SETTINGS,),
)
def workspace_resource_logs(resource: Resource, estate: Estate) -> Verdict:
    settings = estate.diagnostic_settings(resource)
    sending = [s.name for s in settings if sends_logs(s)]
    evidence: tuple[Evidence, ...] = (Evidence(path="diagnosticSettings[*].name", value=[s.name for s in settings]),)
    if sending:
        return passed(f"resource logs go to diagnostic setting(s) {', '.join(sending)}", *evidence)
    if settings:
        evidence = (*evidence, *unknown_settings(settings))  # a template's setting known only at deployment
        return failed("diagnostic settings exist but none sends an enabled log category anywhere", *evidence)
    return no_diagnostic_settings(
        resource, "the workspace has no diagnostic setting, so its resource logs are not kept", *evidence
    )
