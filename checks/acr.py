"""Container registry checks: local credentials, network exposure, private link, CMK and exports.

The registry holds the images every AKS, App Service and ML deployment runs; anyone who can
push to it, or pull models out of it, owns or copies those deployments.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks._shared import (
    CMK_STATUS,
    closed_to_public,
    cmk_verdict,
    default_action,
    link_endpoints,
    per_child,
    private_endpoint_verdict,
)
from scanner import inventory, kinds, props
from scanner.estate import Estate
from scanner.models import Evidence, Resource
from scanner.registry import Verdict, check, failed, not_applicable, passed

_DOCS = "https://learn.microsoft.com/azure/container-registry"
TOKEN_TYPE = "microsoft.containerregistry/registries/tokens"


def _is_premium(resource: Resource) -> bool:
    return props.equals(resource, "sku.name", "Premium") or props.equals(resource, "sku.tier", "Premium")


def _public_access_text(resource: Resource) -> str:
    return props.text(resource, "properties.publicNetworkAccess") or "Enabled (not set)"


@check(
    id="MLW-ACR-01",
    title="Container registry has the admin user disabled",
    kinds=(kinds.REGISTRY,),
    severity="high",
    tags=("local-auth",),
    pillar="identity",
    rationale=(
        "The admin user is one shared username and password with push and pull rights on every "
        "repository, identifying no caller. Absent adminUserEnabled is the service default, false, and "
        "passes."
    ),
    remediation="Disable the admin user and pull with managed identities or repository-scoped tokens.",
    az_cli="az acr update -n <registry> --admin-enabled false",
    azure_policy=("dc921057-6b28-4fbe-9b83-f7bec05db6c2",),
    references=(f"{_DOCS}/container-registry-authentication#admin-account",),
)
def registry_admin_user(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.adminUserEnabled")
    if props.flag(resource, "properties.adminUserEnabled") is True:
        return failed("the admin user is enabled", *evidence)
    return passed("the admin user is disabled", *evidence)


@check(
    id="MLW-ACR-02",
    title="Container registry has anonymous pull disabled",
    kinds=(kinds.REGISTRY,),
    severity="high",
    tags=("local-auth", "access-control"),
    pillar="identity",
    rationale=(
        "Anonymous pull lets anyone who can reach the registry download every image, including models "
        "baked into them. Absent anonymousPullEnabled is the service default, false, and passes. The "
        "feature exists on the Standard and Premium tiers only, so a Basic registry whose flag is true is "
        "not applicable: PSRule Azure.ACR.AnonymousAccess judges Standard and Premium only, and "
        "Checkov CKV_AZURE_138 passes Basic. Divergence: Azure Policy 9f2dea28 tests the flag on every SKU."
    ),
    remediation="Disable anonymous pull.",
    az_cli="az acr update -n <registry> --anonymous-pull-enabled false",
    azure_policy=("9f2dea28-e834-476c-99c5-3507b4728395",),
    references=(f"{_DOCS}/anonymous-pull-access",),
)
def registry_anonymous_pull(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.anonymousPullEnabled")
    if props.flag(resource, "properties.anonymousPullEnabled") is True:
        if props.equals(resource, "sku.name", "Basic"):
            evidence = (*evidence, *props.read(resource, "sku.name"))
            return not_applicable("anonymousPullEnabled is true, but the Basic SKU has no anonymous pull", *evidence)
        return failed("anonymous pull is enabled", *evidence)
    return passed("anonymous pull is disabled", *evidence)


@check(
    id="MLW-ACR-03",
    title="Container registry disables public network access",
    kinds=(kinds.REGISTRY,),
    severity="high",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A registry reachable from the internet can be pulled from (and pushed to, with a leaked "
        "credential) from anywhere. Absent publicNetworkAccess is the default, Enabled, and fails."
    ),
    remediation="Disable public network access (Premium) and use private endpoints.",
    az_cli="az acr update -n <registry> --public-network-enabled false",
    azure_policy=("0fdf0491-d080-4575-b627-ad0e843cba0f",),
    references=(f"{_DOCS}/container-registry-access-selected-networks",),
)
def registry_public_network_access(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.publicNetworkAccess")
    if props.equals(resource, "properties.publicNetworkAccess", "Disabled"):
        return passed("public network access is Disabled", *evidence)
    return failed(f"public network access is {_public_access_text(resource)}", *evidence)


@check(
    id="MLW-ACR-04",
    title="Container registry does not allow unrestricted network access",
    kinds=(kinds.REGISTRY,),
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "Passes when public network access is Disabled or the network rule set denies by default (or a "
        "network security perimeter governs access: SecuredByPerimeter, as for the other services). Network "
        "rules are a Premium feature: a Basic or Standard registry with public access on is open to every "
        "network and fails, with a message saying so. Absent networkRuleSet means Allow."
    ),
    remediation="Disable public access, or (Premium) set the network rule set's default action to Deny.",
    az_cli="az acr update -n <registry> --default-action Deny",
    azure_policy=("d0793b48-0edc-4296-a390-4c75d1bdfd71",),
    references=(f"{_DOCS}/container-registry-access-selected-networks",),
)
def registry_network_rules(resource: Resource, estate: Estate) -> Verdict:
    rules = "properties.networkRuleSet.defaultAction"
    evidence = props.read(resource, "sku.name", "properties.publicNetworkAccess", rules)
    if closed := closed_to_public(resource, rules, "network rules deny by default", *evidence):
        return closed
    if not _is_premium(resource):
        return failed("public access is open to all networks; network rules need the Premium SKU", *evidence)
    action = default_action(resource, rules)
    return failed(f"public access is open and the network rule default action is {action}", *evidence)


@check(
    id="MLW-ACR-05",
    title="Container registry is reached through an approved private endpoint",
    kinds=(kinds.REGISTRY,),
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A private endpoint keeps image pulls and pushes on the virtual network. Private link needs the "
        "Premium SKU: a Basic or Standard registry fails (as Azure Policy bd560fc0 does) with a message "
        "saying so, rather than being not applicable, because the fix is to change the SKU. Pending or "
        "rejected connections do not count."
    ),
    remediation="Move the registry to Premium, create a private endpoint (group id `registry`) and approve it.",
    az_cli=(
        "az network private-endpoint create -g <rg> -n <pe> --vnet-name <vnet> --subnet <subnet> "
        "--private-connection-resource-id <registry-id> --group-id registry --connection-name <name>"
    ),
    azure_policy=("e8eef0a8-67cf-4eb4-9386-14b0e78733d4", "bd560fc0-3c69-498a-ae9f-aa8eb7de0e13"),
    references=(f"{_DOCS}/container-registry-private-link",),
)
def registry_private_endpoint(resource: Resource, estate: Estate) -> Verdict:
    links = estate.private_links(resource)
    evidence = (*props.read(resource, "sku.name"), link_endpoints(links))
    if not any(link.approved for link in links) and not _is_premium(resource):
        sku = props.text(resource, "sku.name") or "unknown"
        return failed(f"the registry is on the {sku} SKU; private link needs Premium", *evidence)
    return private_endpoint_verdict("the registry", links, *evidence)


@check(
    id="MLW-ACR-06",
    title="Container registry encrypts with a customer-managed key",
    kinds=(kinds.REGISTRY,),
    severity="medium",
    tags=("encryption-at-rest", "key-lifecycle"),
    pillar="encryption",
    rationale=(
        "A customer-managed key lets the owner rotate and revoke the key protecting images (and the "
        "models inside them) at rest. Passes when encryption.status is enabled (lower-case in the API, "
        "compared case-insensitively) and a key identifier is set. Absent encryption means "
        "Microsoft-managed keys and fails. CMK can only be set when the registry is created (Premium). "
        "Status enabled with no key identifier in the row passes, as Azure Policy 5b9159ae (status only) "
        "does: the service refuses enabled without a key."
    ),
    remediation="Create a Premium registry with a customer-managed key and move the images to it.",
    az_cli="az acr create -g <rg> -n <registry> --sku Premium --key-encryption-key <key-id> --identity <uami-id>",
    azure_policy=("5b9159ae-1701-4a6f-9a7a-aa9c8ddd0580",),
    references=(f"{_DOCS}/tutorial-enable-customer-managed-keys",),
)
def registry_cmk(resource: Resource, estate: Estate) -> Verdict:
    status = props.text(resource, CMK_STATUS) or "disabled (not set)"
    return cmk_verdict(
        resource,
        encrypted="images are encrypted with a customer-managed key",
        off=f"customer-managed key encryption is {status}",
    )


@check(
    id="MLW-ACR-07",
    title="Container registry has exports disabled",
    kinds=(kinds.REGISTRY,),
    severity="medium",
    tags=("private-network", "data-residency"),
    pillar="private-network",
    rationale=(
        "Even behind private endpoints, import/export pipelines and `az acr import` from another registry "
        "can copy artifacts out. Azure only honours a disabled export policy together with public network "
        "access Disabled, so both are required. Absent exportPolicy is the default, enabled, and fails; "
        "the export policy is a Premium feature, so other SKUs fail with a message saying so."
    ),
    remediation="Disable public network access and set the export policy to disabled (Premium).",
    az_cli="az acr update -n <registry> --public-network-enabled false --allow-exports false",
    azure_policy=("524b0254-c285-4903-bee6-bb8126cde579",),
    references=(f"{_DOCS}/data-loss-prevention",),
)
def registry_exports(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(
        resource, "sku.name", "properties.policies.exportPolicy.status", "properties.publicNetworkAccess"
    )
    exports_off = props.equals(resource, "properties.policies.exportPolicy.status", "disabled")
    public_off = props.equals(resource, "properties.publicNetworkAccess", "Disabled")
    if exports_off and public_off:
        return passed("exports are disabled and public network access is Disabled", *evidence)
    if not exports_off and not _is_premium(resource):
        return failed("exports are allowed; disabling them needs the Premium SKU", *evidence)
    if not exports_off:
        return failed("the export policy allows exports", *evidence)
    return failed(
        f"exports are disabled but public network access is {_public_access_text(resource)}, "
        "so the policy is not enforced",
        *evidence,
    )


@check(
    id="MLW-ACR-08",
    title="Container registry rejects ARM-audience tokens",
    kinds=(kinds.REGISTRY,),
    severity="low",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "With the ARM-audience policy enabled, any Entra token issued for Azure Resource Manager also "
        "authenticates to the registry; disabling it requires tokens scoped to the registry audience. "
        "Absent azureADAuthenticationAsArmPolicy means enabled and fails (CHECKS.csv: absent = fail)."
    ),
    remediation="Disable ARM-audience token authentication for the registry.",
    az_cli="az acr config authentication-as-arm update -r <registry> --status disabled",
    azure_policy=("42781ec6-6127-4c30-bdfa-fb423a0047d3",),
    references=(f"{_DOCS}/container-registry-disable-authentication-as-arm",),
)
def registry_arm_audience_tokens(resource: Resource, estate: Estate) -> Verdict:
    path = "properties.policies.azureADAuthenticationAsArmPolicy.status"
    evidence = props.read(resource, path)
    if props.equals(resource, path, "disabled"):
        return passed("ARM-audience tokens are rejected", *evidence)
    status = props.text(resource, path) or "enabled (not set)"
    return failed(f"ARM-audience token authentication is {status}", *evidence)


@check(
    id="MLW-ACR-09",
    title="Container registry has repository-scoped access tokens disabled",
    kinds=(kinds.REGISTRY,),
    severity="low",
    tags=("local-auth",),
    pillar="identity",
    rationale=(
        "Repository-scoped tokens are long-lived passwords outside Entra ID. One verdict per token "
        "(registries/tokens, an ARM child type not in Resource Graph): enabled fails, disabled passes. "
        "A registry with no tokens passes; when tokens were not collected the check is unknown."
    ),
    remediation="Disable (or delete) repository-scoped tokens and use Entra ID identities instead.",
    az_cli="az acr token update -r <registry> -n <token> --status disabled",
    azure_policy=("ff05e24e-195c-447e-b322-5e90c9f9f366",),
    references=(f"{_DOCS}/container-registry-repository-scoped-permissions",),
    needs=(inventory.REGISTRY_TOKENS,),
)
def registry_scoped_tokens(resource: Resource, estate: Estate) -> Iterator[Verdict]:
    empty = passed("the registry has no repository-scoped tokens", Evidence(path="tokens", value=[]))
    return per_child(resource, estate, TOKEN_TYPE, empty, _token_status)


def _token_status(name: str, token: Resource) -> Verdict:
    evidence = Evidence(path=f"tokens/{name}.properties.status", value=props.text(token, "properties.status"))
    if props.equals(token, "properties.status", "disabled"):
        return passed(f"token {name} is disabled", evidence, detail_key=name)
    status = props.text(token, "properties.status") or "enabled (not set)"
    return failed(f"token {name} is {status}", evidence, detail_key=name)
